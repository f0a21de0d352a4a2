"""The customer side's objects in the DR-region bucket: under `<backup.prefix>outage/`, encrypted as
the backups are (SSE-KMS, or the envelope on a store without it: recovery/adapters/bucket_encryption.py).

The bucket outlives the primary region (it is the backup bucket, versioned and under Object
Lock). `put(..., create_only=True)` is a conditional write (`If-None-Match: *`): it returns
False when the key exists, which is what makes issuing a credit happen once.
"""

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError
from recovery.adapters.aws_session import backup_client, retryable
from recovery.adapters.bucket_encryption import BucketEncryption
from recovery.inventory import Inventory

log = logging.getLogger(__name__)
_MISSING = {"404", "NoSuchKey", "NotFound"}
_EXISTS = {"PreconditionFailed", "412", "ConditionalRequestConflict"}


class DrBucket:
    """Keys are relative to `<backup.prefix>outage/`."""

    def __init__(self, inventory: Inventory, area: str = "outage/") -> None:
        self.bucket = inventory.backup.bucket
        self.prefix = f"{inventory.backup.prefix}{area}"
        self._area = area
        self._s3: Any = backup_client(inventory.backup, inventory.aws)
        self._encryption = BucketEncryption(inventory, self._s3)

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def _error(self, action: str, key: str, err: Exception) -> CloudError:
        return CloudError(f"cannot {action} {self.where(key)}: {err}", retryable=retryable(err))

    def put(self, key: str, data: bytes, *, create_only: bool = False,
            content_type: str = "application/json") -> bool:
        """Write `key`; with `create_only`, False (nothing written) when it already exists."""
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if create_only else {}
        body, metadata = self._encryption.seal(self._area + key, data, {})
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body, ContentType=content_type,
                                **self._encryption.write_args(metadata), **extra)
        except ClientError as err:
            if create_only and str(err.response.get("Error", {}).get("Code", "")) in _EXISTS:
                return False
            raise self._error("write", key, err) from None
        except BotoCoreError as err:
            raise self._error("write", key, err) from None
        return True

    def get(self, key: str) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self.prefix + key)
            body: bytes = self._encryption.decoder(self._area + key, response)(0, response["Body"].read())
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code", "")) in _MISSING:
                return None
            raise self._error("read", key, err) from None
        except BotoCoreError as err:
            raise self._error("read", key, err) from None
        return body

    def keys(self, under: str) -> Iterator[str]:
        """Keys below `under`, relative to the area, in S3's order."""
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + under)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix):]
        except (ClientError, BotoCoreError) as err:
            raise self._error("list", under, err) from None

    def get_many(self, keys: list[str], workers: int = 8) -> dict[str, bytes]:
        """Several small objects in parallel (a month of hourly series objects is ~720)."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = dict(zip(keys, pool.map(self.get, keys), strict=True))
        return {key: data for key, data in found.items() if data is not None}
