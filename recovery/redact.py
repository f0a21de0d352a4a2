"""The one secret scrubber: every log line, journal entry, probe error and report goes through it. Pure."""

from collections.abc import Iterable

MASK = "***"


def redact(text: str, secrets: Iterable[str | None], limit: int | None = None) -> str:
    """`text` with every non-empty secret replaced by ***; cut to `limit` characters when given."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def error_line(err: BaseException, secrets: Iterable[str | None]) -> str:
    """An error's last line (libpq may echo the conninfo above it), secrets scrubbed."""
    text = str(err).strip()
    return redact(text.splitlines()[-1] if text else type(err).__name__, secrets)
