"""The Atom feed at `<url>/feed.atom`: one entry per update, newest first, each with its time."""

from collections.abc import Sequence
from datetime import datetime

from feedgen.feed import FeedGenerator

from outage.status.model import Incident, Update
from outage.status.page import LABELS
from recovery.inventory import StatusPage


def _entry_id(page: StatusPage, update: Update) -> str:
    return f"{page.url.rstrip('/')}/#update-{update.incident}-{update.seq}"


def atom(page: StatusPage, incidents: Sequence[Incident], now: datetime) -> bytes:
    """The feed over every update of the incidents shown (updated = `now`, the publication)."""
    labels = LABELS[page.language]
    base = page.url.rstrip("/")
    feed = FeedGenerator()
    feed.id(f"{base}/")
    feed.title(page.name)
    feed.link(href=f"{base}/", rel="alternate")
    feed.link(href=f"{base}/feed.atom", rel="self")
    feed.language(page.language)
    feed.updated(now)
    feed.author({"name": page.name})
    updates = sorted((u for i in incidents for u in i.updates), key=lambda u: (u.at, u.incident, u.seq))
    for update in updates:  # feedgen prepends: the newest ends up first
        entry = feed.add_entry()
        entry.id(_entry_id(page, update))
        entry.title(f"[{labels['states'][update.state]}] {update.title}")
        entry.link(href=f"{base}/#incident-{update.incident}")
        entry.published(update.at)
        entry.updated(update.at)
        entry.content(update.message, type="text")
    return bytes(feed.atom_str(pretty=True))
