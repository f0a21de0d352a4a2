"""Sizes as people read them: 512 B, 1.5 KiB, 49.9 MiB, 2.0 GiB (binary units, as `ls -h` and S3 consoles)."""

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(size: int | float) -> str:
    """One decimal above a KiB; exact bytes below."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
