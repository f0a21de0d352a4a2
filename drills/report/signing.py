"""Ed25519 keys for report signatures: load from a path, or create one for the lab on first use.

The key path comes from `--signing-key`, else `$CRMDR_SIGNING_KEY`; only a lab inventory may
fall back to a key generated in the key directory (`$CRMDR_KEY_DIR`, else
`~/.config/crmdr/keys/`): outside the lab directory, so `lab down --purge` never takes the key
that signs a chain living on. The private key file is 0600 in a 0700 directory (a key file
that every user can read is refused: anyone could have signed with it); the public key travels
inside every report so a verifier needs nothing else but a trust anchor.
"""

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from policies.errors import ConfigError, Refused

KEY_ENV = "CRMDR_SIGNING_KEY"
KEY_DIR_ENV = "CRMDR_KEY_DIR"


def key_dir() -> Path:
    """Where generated signing keys live: $CRMDR_KEY_DIR, else $XDG_CONFIG_HOME (~/.config)/crmdr/keys."""
    given = os.environ.get(KEY_DIR_ENV)
    if given:
        return Path(given)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "crmdr" / "keys"


def lab_key_path(stack: str) -> Path:
    """The generated key of one lab stack (one chain per stack survives any number of labs)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stack)
    return key_dir() / f"{safe}-report-signing.pem"


def key_path(given: Path | None, lab_default: Path | None) -> Path:
    """--signing-key, else $CRMDR_SIGNING_KEY, else the lab's key; otherwise a ConfigError."""
    if given is not None:
        return given
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env)
    if lab_default is not None:
        return lab_default
    raise ConfigError(f"no report signing key: give --signing-key FILE or set {KEY_ENV} "
                      "(a key is generated automatically only for a lab inventory)")


def load_or_create_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The private key at `path`; with `create`, a new one written 0600 when none exists."""
    if not path.exists():
        if not create:
            raise ConfigError(f"{path}: report signing key not found")
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o007:
        raise Refused(f"{path}: the report signing key is accessible to every user (mode {mode:04o}); "
                      f"refusing to sign with it (chmod 600 {path})")
    return _load_private(path)


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise ConfigError(f"{path}: not a readable unencrypted PEM private key ({type(err).__name__})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{path}: expected an Ed25519 private key")
    return loaded


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Raw 32-byte public key, base64: short enough to print in a report."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def fingerprint(public_key: str) -> str:
    """SHA256:... of the raw public key, the way ssh-keygen prints fingerprints."""
    digest = hashlib.sha256(base64.b64decode(public_key)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data)).decode()


def signature_valid(public_key: str, data: bytes, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(base64.b64decode(signature), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def read_public_key(path: Path) -> str:
    """A trust anchor from a file: a PEM public or private key, or the base64 text itself."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the public key ({err.strerror})") from None
    try:
        if b"PRIVATE KEY" in data:
            return public_key_text(_load_private(path))
        if b"PUBLIC KEY" in data:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public_key_text(public)
            raise ValueError("not Ed25519")
        text = data.decode().strip()
        Ed25519PublicKey.from_public_bytes(base64.b64decode(text))
        return text
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"{path}: expected an Ed25519 public key") from None
