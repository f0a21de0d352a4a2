"""How every object written to the DR bucket is encrypted: the store's SSE-KMS, or crmdr's envelope.

One place for both writers of the bucket (the backup store and the customer side's `DrBucket`), so
neither can store plaintext where the other would not. `backup.encryption: envelope` seals each
object client-side (recovery/adapters/envelope.py) under a KMS data key, bound to its key
relative to `backup.prefix`; otherwise the PUT asks for SSE-KMS, and a server other than AWS is
probed once with an empty object before the first write: one that fails or ignores SSE-KMS is
refused (nothing uploaded).
"""

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError, Refused
from recovery.adapters import envelope
from recovery.adapters.aws_session import backup_client, client, retryable
from recovery.inventory import Inventory

log = logging.getLogger(__name__)

PROBE_KEY = ".crmdr-probe/sse-kms"
_ADVICE = ("set backup.encryption: envelope in the inventory to encrypt client-side with a KMS data key "
           "(nothing was uploaded)")


class BucketEncryption:
    """Write arguments and read decoding for one bucket; keys are relative to `backup.prefix`."""

    def __init__(self, inventory: Inventory, s3: Any) -> None:
        self._aws, self._backup, self._s3 = inventory.aws, inventory.backup, s3
        self._checked = self._backup.endpoint_url is None or self._backup.encryption == "envelope"

    @cached_property
    def cipher(self) -> envelope.ObjectCipher | None:
        """Client-side encryption under the DR key, for a store without SSE-KMS; None: the store's SSE-KMS."""
        if self._backup.encryption != "envelope":
            return None
        kms = client(self._aws, "kms", self._backup.region)
        return envelope.ObjectCipher(envelope.DataKeys(kms, self._backup.kms_key_id, {"purpose": "crmdr-backup"}))

    @cached_property
    def _probe(self) -> Any:
        """One attempt, short timeouts: a store without SSE-KMS answers 500, which is not worth retrying."""
        return backup_client(self._backup, self._aws, probe_timeout=10.0)

    def check(self) -> None:
        """Before the first write to a server other than AWS: does it do SSE-KMS? One empty probe object,
        then deleted; a store that fails or ignores SSE-KMS is refused, so no plaintext is ever stored."""
        if self._checked:
            return
        bucket, probe, where = self._backup.bucket, f"{self._backup.prefix}{PROBE_KEY}", self._backup.endpoint_url
        try:
            answer = self._probe.put_object(Bucket=bucket, Key=probe, Body=b"", ServerSideEncryption="aws:kms",
                                            SSEKMSKeyId=self._backup.kms_key_id)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            raise Refused(f"the backup store at {where} did not take an SSE-KMS write ({code}): {_ADVICE}") from None
        except BotoCoreError as err:
            raise CloudError(f"cannot write s3://{bucket}/{probe} at {where}: {err}",
                             retryable=retryable(err)) from None
        try:
            self._s3.delete_object(Bucket=bucket, Key=probe, **(
                {"VersionId": answer["VersionId"]} if answer.get("VersionId") else {}))
        except (ClientError, BotoCoreError) as err:
            log.warning("the SSE-KMS probe object %s stays (%s)", probe, err)
        if answer.get("ServerSideEncryption") != "aws:kms":
            raise Refused(f"the backup store at {where} ignored SSE-KMS (it stores plaintext): {_ADVICE}")
        self._checked = True

    def write_args(self, metadata: dict[str, str]) -> dict[str, Any]:
        """put_object/upload arguments: SSE-KMS unless the body is sealed, and the user metadata."""
        args: dict[str, Any] = ({} if self.cipher else
                                {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self._backup.kms_key_id})
        if metadata:
            args["Metadata"] = metadata
        return args

    def seal(self, key: str, data: bytes, metadata: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """The body to PUT and its user metadata (the envelope's added), after the SSE check."""
        self.check()
        if self.cipher is None:
            return data, metadata
        sealer, sealed = self.cipher.sealer(key)
        return sealer.seal_all(data), {**metadata, **sealed}

    def decoder(self, key: str, response: dict[str, Any]) -> Callable[[int, bytes], bytes]:
        """What turns stored bytes at an offset into the object's bytes: as they are under SSE-KMS; under
        envelope, the sealed chunks decrypted (a tampered or plaintext object is a VerificationFailed naming it)."""
        cipher = self.cipher
        if cipher is None:
            return lambda start, data: data
        opener = cipher.opener(key, response.get("Metadata", {}))
        total = int(str(response.get("ContentRange", "")).rsplit("/", 1)[-1] or 0) if response.get(
            "ContentRange") else int(response.get("ContentLength", 0))
        last = envelope.last_index(total)
        return lambda start, data: b"".join(opener.chunks(data, start // (envelope.CHUNK + envelope.TAG), last))
