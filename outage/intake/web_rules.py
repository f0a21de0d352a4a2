"""Rules of the web face that are decisions, not I/O: which language, whether a client may submit. Pure."""

from collections import OrderedDict
from dataclasses import dataclass, field

from policies.intake import Language

MAX_TRACKED_CLIENTS = 100_000


def pick_language(explicit: str | None, accept_language: str | None) -> Language:
    """An explicit choice (?lang=, the form's field) wins; else the browser's first en/de preference."""
    if explicit in ("en", "de"):
        return "de" if explicit == "de" else "en"
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("en", "de") and quality > 0:
            ranked.append((-quality, index, primary))
    return "de" if ranked and min(ranked)[2] == "de" else "en"


@dataclass
class RateLimiter:
    """A token bucket per client address: `per_minute` submissions, bursts up to `burst`."""

    per_minute: int
    burst: int = 10
    _buckets: "OrderedDict[str, tuple[float, float]]" = field(default_factory=OrderedDict)

    def retry_after(self, client: str, now: float) -> float | None:
        """None to accept (and count) the submission; else seconds until one more is allowed."""
        rate = self.per_minute / 60.0
        capacity = float(max(self.burst, 1))
        tokens, last = self._buckets.pop(client, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            wait = None
        else:
            self._buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / rate
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return wait
