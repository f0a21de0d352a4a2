"""The status page's bucket in the DR region: the append-only update log and the published site.

Each log entry is its own object, written with a conditional create (`If-None-Match: *`), so an
entry is never overwritten: a second writer of the same sequence number gets `False` and takes
the next one. Site files are replaced on every publication (the bucket keeps their versions).
A drill writes under `drill/` in the same bucket, which the public site never serves.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError, ConfigError
from recovery.adapters.aws_session import client, retryable
from recovery.inventory import Inventory, StatusPage

log = logging.getLogger(__name__)

LOG, DELIVERIES, SITE, DRILL = "log/", "deliveries/", "site/", "drill/"
CACHE = "max-age=10, must-revalidate"  # readers and CloudFront see a new update within seconds


def status_config(inventory: Inventory) -> StatusPage:
    """The inventory's `status` section with its bucket, or a ConfigError naming the field."""
    if inventory.status is None:
        raise ConfigError("inventory: status: expected the status page (url, bucket) to be declared")
    if not inventory.status.bucket:
        raise ConfigError("inventory: status.bucket: expected the DR-region bucket of the status page")
    return inventory.status


class S3StatusStore:
    """Translates the log's and the site's reads and writes to S3; errors become CloudError."""

    def __init__(self, inventory: Inventory, *, drill: bool = False) -> None:
        status = status_config(inventory)
        self.bucket = str(status.bucket)
        self.root = f"{status.prefix}{DRILL if drill else ''}"
        self._s3: Any = client(inventory.aws, "s3", inventory.regions.dr)

    def warm(self) -> None:
        """Open the connection now (a HEAD of the bucket), so the first notice pays no handshake."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as err:
            log.warning("status page bucket %s not reachable yet: %s", self.bucket, type(err).__name__)

    def _fail(self, what: str, err: Exception) -> CloudError:
        return CloudError(f"status page bucket {self.bucket}: {what} failed ({type(err).__name__}: {err})",
                          retryable=retryable(err))

    def create(self, key: str, data: bytes) -> bool:
        """Write `key` (under log/ or deliveries/) only if absent; False when it already exists."""
        try:
            self._s3.put_object(Bucket=self.bucket, Key=f"{self.root}{key}", Body=data,
                                ContentType="application/json", IfNoneMatch="*")
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                return False
            raise self._fail(f"writing {key}", err) from None
        except BotoCoreError as err:
            raise self._fail(f"writing {key}", err) from None
        return True

    def read_all(self, under: str) -> list[bytes]:
        """Every object under `under` (log/ or deliveries/), in key order."""
        keys: list[str] = []
        try:
            for answer in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                             Prefix=f"{self.root}{under}"):
                keys += [item["Key"] for item in answer.get("Contents", [])]
            with ThreadPoolExecutor(max_workers=8) as pool:
                return list(pool.map(self._get, sorted(keys)))
        except (ClientError, BotoCoreError) as err:
            raise self._fail(f"reading {under}", err) from None

    def _get(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_site(self, files: dict[str, tuple[bytes, str]]) -> list[str]:
        """Publish the site's files; index.html last, so a reader never sees a page newer than its feed."""
        order = sorted(files, key=lambda path: path == "index.html")
        try:
            for path in order:
                data, content_type = files[path]
                self._s3.put_object(Bucket=self.bucket, Key=f"{self.root}{SITE}{path}", Body=data,
                                    ContentType=content_type, CacheControl=CACHE)
        except (ClientError, BotoCoreError) as err:
            raise self._fail("publishing the site", err) from None
        return [f"s3://{self.bucket}/{self.root}{SITE}{path}" for path in order]

    def get_site(self, path: str) -> tuple[bytes, str] | None:
        """A published file and its content type, or None (the lab's HTTP server reads through this)."""
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=f"{self.root}{SITE}{path}")
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._fail(f"reading {path}", err) from None
        except BotoCoreError as err:
            raise self._fail(f"reading {path}", err) from None
        return bytes(answer["Body"].read()), str(answer.get("ContentType", "application/octet-stream"))
