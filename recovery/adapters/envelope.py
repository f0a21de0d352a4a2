"""Envelope encryption with KMS data keys and AES-256-GCM: KMS sees only data-key requests, the
store or table only ciphertext. One implementation for the intake's records and the backup objects
on a store without SSE-KMS.

Data keys are cached for a few minutes (as the AWS Encryption SDK's caching CMM does): one KMS call
per few thousand messages or objects instead of one each keeps bursts off KMS's request quota.

Objects are sealed as a stream of fixed-size authenticated chunks (the STREAM construction), so
memory stays bounded for GB objects and a ranged read decrypts only the chunks it fetched. Chunk i
of an object holds CHUNK plaintext bytes (the last one fewer, possibly none) plus a 16-byte tag; its
nonce is the object's random 8-byte prefix and i, its associated data the object's key and whether
it is the last chunk: a flipped bit, a reordered, dropped or truncated chunk, or an object moved to
another key fails its tag.
"""

import base64
import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from policies.errors import CloudError, VerificationFailed
from recovery.adapters.aws_session import retryable
from recovery.ports import Readable

FORMAT = b"\x01"
MAX_AGE_S = 300.0
MAX_USES = 10_000
CHUNK = 1024 * 1024
TAG = 16
# User metadata of an object sealed here (S3 lower-cases the names).
META_FORMAT, META_KEY, META_NONCE, META_KMS = "crmdr-envelope", "crmdr-data-key", "crmdr-nonce", "crmdr-kms-key-id"
STREAM_FORMAT = "aes-256-gcm-stream-1m-v1"


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    born: float
    uses: int = 0


class DataKeys:
    """KMS data keys of one key and encryption context: a current one (rotated by age and use) and unwrapped ones."""

    def __init__(self, kms: Any, key_id: str, context: dict[str, str]) -> None:
        self.key_id = key_id
        self._kms, self._context = kms, context
        self._lock = threading.Lock()
        self._current: _DataKey | None = None
        self._unwrapped: dict[bytes, bytes] = {}

    def current(self) -> tuple[bytes, bytes]:
        """(plaintext key, wrapped key) to encrypt with; a new one from GenerateDataKey when due."""
        with self._lock:
            key = self._current
            if key is None or key.uses >= MAX_USES or time.monotonic() - key.born > MAX_AGE_S:
                answer = self._call("GenerateDataKey", lambda: self._kms.generate_data_key(
                    KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=self._context))
                key = _DataKey(answer["Plaintext"], answer["CiphertextBlob"], time.monotonic())
                self._current = key
            key.uses += 1
            return key.plaintext, key.wrapped

    def unwrap(self, wrapped: bytes) -> bytes:
        """The plaintext of a wrapped data key (KMS Decrypt once per key)."""
        with self._lock:
            plain = self._unwrapped.get(wrapped)
        if plain is None:
            answer = self._call("Decrypt", lambda: self._kms.decrypt(CiphertextBlob=wrapped,
                                                                      EncryptionContext=self._context))
            plain = bytes(answer["Plaintext"])
            with self._lock:
                self._unwrapped[wrapped] = plain
        return plain

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (ClientError, BotoCoreError) as err:
            code = err.response.get("Error", {}).get("Code", "") if isinstance(err, ClientError) else ""
            raise CloudError(f"KMS {what} with key {self.key_id} failed ({code or type(err).__name__})",
                             retryable=retryable(err)) from None


class Envelope:
    """seal/open of one message with a KMS key; one instance per process (it holds the data-key cache)."""

    def __init__(self, kms: Any, key_id: str, context: dict[str, str] | None = None,
                 what: str = "an intake record") -> None:
        self._keys = DataKeys(kms, key_id, context or {"purpose": "crmdr-intake"})
        self._what = what

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """(ciphertext, wrapped data key) for `plaintext` bound to `aad`."""
        plain_key, wrapped = self._keys.current()
        nonce = os.urandom(12)
        return FORMAT + nonce + AESGCM(plain_key).encrypt(nonce, plaintext, aad), wrapped

    def open(self, sealed: bytes, wrapped: bytes, aad: bytes) -> bytes:
        """The plaintext; a tampered or moved ciphertext is a VerificationFailed."""
        plain_key = self._keys.unwrap(wrapped)
        if not sealed.startswith(FORMAT):
            raise VerificationFailed(f"{self._what} is not in the expected encrypted format")
        try:
            return AESGCM(plain_key).decrypt(sealed[1:13], sealed[13:], aad)
        except InvalidTag:
            raise VerificationFailed(f"{self._what} failed its integrity check (tampered or moved)") from None


def sealed_size(plain: int) -> int:
    """The stored size of `plain` bytes: a tag per full chunk and one for the last (maybe empty) chunk."""
    return plain + TAG * (plain // CHUNK + 1)


def plain_size(stored: int) -> int:
    """The inverse of sealed_size (0 for an object too short to be sealed)."""
    return max(0, stored - TAG - TAG * ((stored - TAG) // (CHUNK + TAG)))


class ObjectCipher:
    """Seals and opens objects of one store under `keys`; `key` (the object's name) is bound into every chunk."""

    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    def sealer(self, key: str) -> tuple["Sealer", dict[str, str]]:
        """A sealer for a new object and the metadata to store with it (format, wrapped key, nonce prefix)."""
        plain_key, wrapped = self.keys.current()
        prefix = os.urandom(8)
        metadata = {META_FORMAT: STREAM_FORMAT, META_KEY: base64.b64encode(wrapped).decode(),
                    META_NONCE: base64.b64encode(prefix).decode(), META_KMS: self.keys.key_id}
        return Sealer(AESGCM(plain_key), prefix, key), metadata

    def opener(self, key: str, metadata: dict[str, str]) -> "Opener":
        """An opener for a stored object; an object without the envelope's metadata is refused by name."""
        meta = {name.lower(): value for name, value in metadata.items()}
        if meta.get(META_FORMAT) != STREAM_FORMAT:
            found = meta.get(META_FORMAT)
            raise VerificationFailed(f"object {key} is not envelope-encrypted by crmdr "
                                     f"({'format ' + found if found else 'no envelope metadata'}): "
                                     "plaintext or another tool's object in an envelope store")
        try:
            wrapped, prefix = base64.b64decode(meta[META_KEY]), base64.b64decode(meta[META_NONCE])
        except (KeyError, ValueError):
            raise VerificationFailed(f"object {key}: its envelope metadata (data key, nonce) is damaged") from None
        try:
            plain_key = self.keys.unwrap(wrapped)
        except CloudError as err:
            if err.retryable:
                raise
            raise VerificationFailed(f"object {key}: its data key does not unwrap with KMS ({err})") from None
        return Opener(AESGCM(plain_key), prefix, key)


def _aad(key: str, final: bool) -> bytes:
    return b"crmdr-object\0" + key.encode() + (b"\0final" if final else b"\0more")


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


class Sealer:
    """Encrypts one object chunk by chunk, in order."""

    def __init__(self, aead: AESGCM, prefix: bytes, key: str) -> None:
        self._aead, self._prefix, self._key = aead, prefix, key
        self._index = 0

    def chunk(self, plain: bytes, *, final: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index), plain, _aad(self._key, final))
        self._index += 1
        return sealed

    def seal_all(self, data: bytes) -> bytes:
        full = len(data) // CHUNK
        parts = [self.chunk(data[i * CHUNK:(i + 1) * CHUNK], final=False) for i in range(full)]
        return b"".join([*parts, self.chunk(data[full * CHUNK:], final=True)])


class Opener:
    """Decrypts chunks of one object by index; a failed tag names the object."""

    def __init__(self, aead: AESGCM, prefix: bytes, key: str) -> None:
        self._aead, self._prefix, self._key = aead, prefix, key

    def chunk(self, index: int, sealed: bytes, *, final: bool) -> bytes:
        try:
            return self._aead.decrypt(_nonce(self._prefix, index), sealed, _aad(self._key, final))
        except InvalidTag:
            raise VerificationFailed(f"object {self._key} failed its envelope integrity check at chunk {index} "
                                     "(tampered, truncated or moved)") from None

    def chunks(self, data: bytes, first: int, last: int) -> Iterator[bytes]:
        """Decrypt `data`, sealed chunks from index `first` on; `last` is the object's final chunk index."""
        for offset in range(0, max(len(data), 1), CHUNK + TAG):
            index = first + offset // (CHUNK + TAG)
            yield self.chunk(index, data[offset:offset + CHUNK + TAG], final=index == last)

    def open_all(self, data: bytes) -> bytes:
        return b"".join(self.chunks(data, 0, last_index(len(data))))


def last_index(stored: int) -> int:
    """The index of an object's final chunk, from its stored size."""
    return max(0, (stored - TAG) // (CHUNK + TAG)) if stored >= TAG else 0


class SealingReader:
    """A reader of ciphertext over a reader of plaintext; a short chunk is the last one (sealed_size)."""

    def __init__(self, source: Readable, sealer: Sealer) -> None:
        self._source, self._sealer = source, sealer
        self._out = bytearray()
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._out) < size):
            plain = read_full(self._source, CHUNK)
            self._done = len(plain) < CHUNK
            self._out += self._sealer.chunk(plain, final=self._done)
        cut = len(self._out) if size < 0 else size
        data = bytes(self._out[:cut])
        del self._out[:cut]
        return data

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return True


def read_full(source: Readable, size: int) -> bytes:
    """Exactly `size` bytes unless the source ends first (streams may return short reads)."""
    parts, have = [], 0
    while have < size:
        data = source.read(size - have)
        if not data:
            break
        parts.append(data)
        have += len(data)
    return b"".join(parts)
