"""PgHost's kept SQL session (one per host and database, for the runbooks' ~20 questions per failover):
reused while it lives, replaced once when the server closed it, closed with the site."""

import pytest
from tenacity import Retrying, stop_after_delay, wait_fixed

from recovery.adapters.pg_host import PgHost
from recovery.adapters.postgres import connect
from recovery.runbooks.site import open_site
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def _backend_pid(host: PgHost) -> int:
    row = host.query("SELECT pg_backend_pid()")
    assert row is not None
    return int(row[0])


def test_the_session_is_kept_replaced_when_the_server_closes_it_and_closed_with_the_site(shared_lab: Lab) -> None:
    site = open_site(shared_lab.inventory)
    primary = site.host("primary")
    try:
        first = _backend_pid(primary)
        assert _backend_pid(primary) == first  # one backend answers both: no new connection per query

        with connect(shared_lab.settings.primary_ip.exploded, shared_lab.settings.pg_port, user="crmdr",
                     password=shared_lab.password, dbname="postgres") as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))

        second = _backend_pid(primary)  # the server closed the kept one: asked again on a new connection
        assert second != first
        assert primary.in_recovery() is False
    finally:
        site.close()
    for attempt in Retrying(stop=stop_after_delay(5), wait=wait_fixed(0.05), reraise=True):
        with attempt, connect(shared_lab.settings.primary_ip.exploded, shared_lab.settings.pg_port, user="crmdr",
                              password=shared_lab.password, dbname="postgres") as admin:
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (second,)).fetchone()
            assert row == (0,), "the kept session outlived site.close()"
