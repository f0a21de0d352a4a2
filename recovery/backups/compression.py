"""How a recovery point's bytes are stored: zstd, lz4 or none, compressed and expanded as streams.

The manifest's SHA-256 and size are those of the stored (compressed) bytes, so `verify` proves
what the bucket holds; the expanded stream then goes to `tar -x` or `pg_restore`, which prove the
content. Streams are one frame, worked on in bounded pieces: memory does not grow with the size.
No I/O here: the codecs are pure transformations of bytes.
"""

from collections.abc import Iterable, Iterator
from typing import Any, Literal, Protocol, cast, get_args

import lz4.frame
import zstandard

from policies.errors import ConfigError, VerificationFailed
from recovery.ports import Readable

Compression = Literal["zstd", "lz4", "none"]
COMPRESSIONS: tuple[Compression, ...] = get_args(Compression)
DEFAULT: Compression = "zstd"  # level 1; chosen from the figures: docs/performance.md, item 4
SUFFIX: dict[Compression, str] = {"zstd": ".zst", "lz4": ".lz4", "none": ""}
ZSTD_LEVEL = 1  # level 3 (zstd's default) cost ~2x the CPU here for a few % fewer bytes
PIECE = 1024 * 1024


class _Codec(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


class _Lz4Codec:
    """lz4's frame compressor in the compressobj shape (begin folded into the first piece)."""

    def __init__(self) -> None:
        self._frame = lz4.frame.LZ4FrameCompressor()
        self._started = False

    def compress(self, data: bytes) -> bytes:
        head = b"" if self._started else self._frame.begin()
        self._started = True
        return head + cast(bytes, self._frame.compress(data))

    def flush(self) -> bytes:
        return self.compress(b"") + cast(bytes, self._frame.flush())


def parse_compression(value: str) -> Compression:
    """The CLI's --compress value; ConfigError (exit 2) naming the choices otherwise."""
    if value not in COMPRESSIONS:
        raise ConfigError(f"--compress must be one of {', '.join(COMPRESSIONS)}, got '{value}'")
    return cast(Compression, value)


def _codec(compression: Compression) -> _Codec:
    if compression == "zstd":
        return cast(_Codec, zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj())
    return _Lz4Codec()


class Compressing:
    """A readable over `source` that returns its bytes compressed (a logical point's pg_dump
    stream); `read(n)` returns n bytes until the end (s3transfer takes a short read as the last part)."""

    def __init__(self, source: Readable, compression: Compression) -> None:
        self._source, self._codec = source, _codec(compression)
        self._out = bytearray()
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._out) < size):
            data = self._source.read(PIECE)
            self._out += self._codec.compress(data) if data else self._codec.flush()
            self._done = not data
        size = len(self._out) if size < 0 else size
        with memoryview(self._out) as view:
            taken = bytes(view[:size])  # one copy, not a slice and then a copy
        del self._out[:size]
        return taken


def compressing(source: Readable, compression: Compression) -> Readable:
    return source if compression == "none" else Compressing(source, compression)


def _decoder(compression: Compression) -> Any:
    return (zstandard.ZstdDecompressor().decompressobj() if compression == "zstd"
            else lz4.frame.LZ4FrameDecompressor())


def expanded(chunks: Iterable[bytes | memoryview], compression: Compression,
             key: str) -> Iterator[bytes | memoryview]:
    """The stored chunks of object `key`, decompressed in order (concatenated frames too, as the
    zstd and lz4 tools write them); VerificationFailed when they are not complete frames of that
    kind (the manifest said so, the bytes disagree)."""
    if compression == "none":
        yield from chunks
        return
    decoder, fed, frames = _decoder(compression), False, 0
    for stored in chunks:
        chunk = stored
        while chunk:
            try:
                data = decoder.decompress(chunk)
            except (zstandard.ZstdError, RuntimeError) as err:
                raise VerificationFailed(f"object {key} is not a readable {compression} stream ({err})") from None
            fed = True
            if data:
                yield data
            if not decoder.eof:
                break
            frames += 1
            chunk, decoder, fed = decoder.unused_data, _decoder(compression), False
    if fed or not frames:
        raise VerificationFailed(f"object {key} ends before its {compression} stream does (truncated)")
