"""CRM validation against the real lab database: digests, invariants and amcheck."""

import pytest

from recovery.adapters.pg_validation import digests, invariant_violations, validate
from recovery.adapters.postgres import connect
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab


def _primary(lab: Lab):  # type: ignore[no-untyped-def]
    node = lab.inventory.database.primary
    return connect(node.host, node.pg_port, user="crmdr", password=lab.password, dbname="crm")  # type: ignore[union-attr]


def test_lab_database_validates_against_its_own_digest(shared_lab: Lab) -> None:
    with _primary(shared_lab) as conn:
        taken = digests(conn)
        reasons = validate(conn, taken)

    assert reasons == []
    assert taken["accounts"].rows == 100 and taken["contacts"].rows == 300
    assert "crmdr_probe" not in taken


def test_orphans_break_invariants_and_digest(shared_lab: Lab) -> None:
    """GIVEN a transaction that deletes an account under its contacts (FK triggers off), rolled back."""
    # the lab is shared: force_rollback leaves it as it was
    with _primary(shared_lab) as conn:
        before = digests(conn)
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("DELETE FROM accounts WHERE id = 7")
            violations, unchecked = invariant_violations(conn)
            reasons = validate(conn, before)

    assert unchecked == []
    assert violations["every contact's account exists"] == 3
    assert "table accounts has 99 rows, the recovery point recorded 100" in reasons
    assert any("every case's account exists (1 rows" in reason for reason in reasons)
