"""The demo: the lab up, one write through the DNS name, the same row read on the standby."""

import time
from pathlib import Path
from typing import Any

from drills.lab.lab import Progress, up
from drills.lab.settings import LabSettings
from policies.errors import VerificationFailed
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.secrets import resolve_secret


def run_demo(directory: Path, settings: LabSettings, progress: Progress, timeout: float = 10) -> dict[str, Any]:
    inventory = up(directory, settings, progress)
    db = inventory.database
    password = resolve_secret(db.password, inventory) if db.password else None
    address = Route53Dns(inventory).resolve()
    progress(f"writing through {inventory.dns.record_name} ({address})")
    probe_id = time.time_ns()
    with connect(address, db.primary.pg_port, user=db.user, password=password, dbname=db.name) as conn:
        conn.execute("INSERT INTO crmdr_probe (id, writer, note) VALUES (%s, 'demo', 'hello')", (probe_id,))
    written = time.monotonic()
    standby = db.standby
    host = getattr(standby, "host", "")
    with connect(host, standby.pg_port, user=db.user, password=password, dbname=db.name) as conn:
        while True:
            row = conn.execute("SELECT note FROM crmdr_probe WHERE id = %s", (probe_id,)).fetchone()
            if row:
                break
            if time.monotonic() - written > timeout:
                raise VerificationFailed(f"row {probe_id} did not reach the standby {host} within {timeout:g}s")
            time.sleep(0.01)
    return {"probe_id": probe_id, "dns_name": inventory.dns.record_name, "written_to": address,
            "read_from": host, "replicated_after_ms": (time.monotonic() - written) * 1000}
