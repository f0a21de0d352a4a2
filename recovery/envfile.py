"""The app hosts' database setting: a `key=value` env file naming the database host. Pure.

Format (docs/runbooks.md): one `KEY=value` per line; recovery owns the line
`CRMDR_DB_HOST=<address>` and leaves every other line (and comments) as it found them.
"""

DB_HOST_KEY = "CRMDR_DB_HOST"


def env_value(text: str, key: str = DB_HOST_KEY) -> str | None:
    """The last value of `key` (as a shell sourcing the file would see it), or None."""
    found = None
    for line in text.splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and name.strip() == key:
            found = value.strip().strip("'\"")
    return found


def with_value(text: str, value: str, key: str = DB_HOST_KEY) -> str:
    """`text` with exactly one `key=value` line, in place of the first one (else appended)."""
    lines, placed = [], False
    for line in text.splitlines():
        name, sep, _ = line.strip().removeprefix("export ").partition("=")
        if sep and name.strip() == key:
            if not placed:
                lines.append(f"{key}={value}")
                placed = True
            continue
        lines.append(line)
    if not placed:
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"
