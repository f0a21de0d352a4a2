"""Every file of the published site, rendered together so page, feed and JSON never disagree.

(Not `site.py`: that name marks a runbook's composition root; this module is pure.)
"""

import json
from collections.abc import Sequence
from datetime import datetime

from outage.status.feed import atom
from outage.status.model import Incident, in_history
from outage.status.page import render_page
from outage.status.statuspage import incidents_json, summary_json
from recovery.inventory import StatusPage

HTML, ATOM, JSON = "text/html; charset=utf-8", "application/atom+xml", "application/json"
SiteFiles = dict[str, tuple[bytes, str]]


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def site_files(page: StatusPage, incidents: Sequence[Incident], now: datetime, *, drill: bool = False) -> SiteFiles:
    """path under the site root -> (content, content type), as of `now`."""
    shown = [i for i in incidents if in_history(i, now)]
    return {
        "index.html": (render_page(page, shown, now, drill=drill).encode(), HTML),
        "feed.atom": (atom(page, shown, now), ATOM),
        "api/v2/summary.json": (_json(summary_json(page, shown, now)), JSON),
        "api/v2/incidents.json": (_json(incidents_json(page, shown, now)), JSON),
    }
