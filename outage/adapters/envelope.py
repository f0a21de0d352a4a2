"""Envelope encryption with KMS data keys and AES-256-GCM, so plaintext personal data never
reaches the table: KMS sees only data-key requests, the table only ciphertext.

Data keys are cached for a few minutes (as the AWS Encryption SDK's caching CMM does): one
KMS call per few thousand requests instead of one per request keeps a burst of submissions
off KMS's request quota. The request id is the associated data, so a ciphertext cannot be
moved to another request's item.
"""

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from policies.errors import CloudError, VerificationFailed
from recovery.adapters.aws_session import retryable

FORMAT = b"\x01"
CONTEXT = {"purpose": "crmdr-intake"}
MAX_AGE_S = 300.0
MAX_USES = 10_000


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    born: float
    uses: int = 0


class Envelope:
    """seal/open with a KMS key; one instance per process (it holds the data-key cache)."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id
        self._lock = threading.Lock()
        self._current: _DataKey | None = None
        self._unwrapped: dict[bytes, bytes] = {}

    def _data_key(self) -> _DataKey:
        with self._lock:
            key = self._current
            if key is None or key.uses >= MAX_USES or time.monotonic() - key.born > MAX_AGE_S:
                answer = self._call("GenerateDataKey", lambda: self._kms.generate_data_key(
                    KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=CONTEXT))
                key = _DataKey(answer["Plaintext"], answer["CiphertextBlob"], time.monotonic())
                self._current = key
            key.uses += 1
            return key

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (ClientError, BotoCoreError) as err:
            raise CloudError(f"KMS {what} with key {self._key_id} failed ({type(err).__name__})",
                             retryable=retryable(err)) from None

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """(ciphertext, wrapped data key) for `plaintext` bound to `aad`."""
        key = self._data_key()
        nonce = os.urandom(12)
        return FORMAT + nonce + AESGCM(key.plaintext).encrypt(nonce, plaintext, aad), key.wrapped

    def open(self, sealed: bytes, wrapped: bytes, aad: bytes) -> bytes:
        """The plaintext; a tampered or moved ciphertext is a VerificationFailed."""
        with self._lock:
            plain_key = self._unwrapped.get(wrapped)
        if plain_key is None:
            answer = self._call("Decrypt", lambda: self._kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=CONTEXT))
            plain_key = bytes(answer["Plaintext"])
            with self._lock:
                self._unwrapped[wrapped] = plain_key
        if not sealed.startswith(FORMAT):
            raise VerificationFailed("an intake record is not in the expected encrypted format")
        try:
            return AESGCM(plain_key).decrypt(sealed[1:13], sealed[13:], aad)
        except InvalidTag:
            raise VerificationFailed("an intake record failed its integrity check (tampered or moved)") from None
