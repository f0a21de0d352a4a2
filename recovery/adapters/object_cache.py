"""A local cache of small bucket objects, keyed by bucket, key and the ETag S3 returned.

Manifests and verdicts are written once and never changed in place (a rewrite is a new
version with a new ETag), so a copy fetched under an ETag stays right for as long as a
listing reports that same ETag. `backup list` over 10,000 points then costs the listing,
not 15,000 GETs. Manifests still check their own SHA-256 when parsed. Files are 0600 in a
0700 directory: $CRMDR_CACHE_DIR, else $XDG_CACHE_HOME/crmdr/objects, else
~/.cache/crmdr/objects; CRMDR_CACHE_DIR=off disables it. Any OS error makes it a miss.
"""

import hashlib
import os
import tempfile
from pathlib import Path

MAX_BYTES = 1024 * 1024  # larger objects are streamed, never cached


class ObjectCache:
    def __init__(self, root: Path | None) -> None:
        self.root = root

    @classmethod
    def default(cls) -> "ObjectCache":
        configured = os.environ.get("CRMDR_CACHE_DIR")
        if configured == "off":
            return cls(None)
        if configured:
            return cls(Path(configured))
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "crmdr" / "objects")

    def _path(self, bucket: str, key: str, etag: str) -> Path | None:
        if self.root is None or not etag:
            return None
        name = hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode()).hexdigest()
        return self.root / name[:2] / name

    def get(self, bucket: str, key: str, etag: str) -> bytes | None:
        path = self._path(bucket, key, etag)
        try:
            return path.read_bytes() if path else None
        except OSError:
            return None

    def put(self, bucket: str, key: str, etag: str, data: bytes) -> None:
        path = self._path(bucket, key, etag)
        if path is None or len(data) > MAX_BYTES:
            return
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)  # 0600; renamed whole, never half-written
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError:
            return
