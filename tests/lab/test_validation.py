"""CRM validation against the real lab database: digests, invariants and amcheck."""

import psycopg
import pytest

from recovery.adapters.pg_validation import digests, invariant_violations, unhashable_columns, validate
from recovery.adapters.postgres import connect
from recovery.backups.validation import digest_sql
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


def test_checks_spread_over_connections_give_the_verdict_of_one_connection(shared_lab: Lab) -> None:
    """validate() with a connection factory runs the digests, each index's amcheck and each invariant
    on several connections; a changed digest is still found, and in the same words."""
    with _primary(shared_lab) as conn:
        taken = digests(conn)
    changed = {**taken, "accounts": taken["accounts"].model_copy(update={"rows": 101})}

    spread = validate(lambda: _primary(shared_lab), changed, workers=3)
    with _primary(shared_lab) as conn:
        alone = validate(conn, changed)

    assert spread == alone == ["table accounts has 100 rows, the recovery point recorded 101"]
    assert validate(lambda: _primary(shared_lab), taken, workers=3) == []


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


# column type -> whether hash_record_extended can hash it (json, point, xml: no extended hash function)
COLUMN_TYPES = {"bigint": True, "text": True, "numeric(12,2)": True, "timestamptz": True, "date": True,
                "smallint": True, "uuid": True, "jsonb": True, "bytea": True, "crmdr_t_mood": True,
                "crmdr_t_email": True, "json": False, "point": False, "xml": False}


def test_the_catalog_query_chooses_record_only_where_hash_record_extended_works(shared_lab: Lab) -> None:
    """GIVEN one table of one row per column type (rolled back: the lab is shared)."""
    with _primary(shared_lab) as conn, conn.transaction(force_rollback=True):
        conn.execute("CREATE TYPE crmdr_t_mood AS ENUM ('ok', 'sad')")
        conn.execute("CREATE DOMAIN crmdr_t_email AS text CHECK (VALUE LIKE '%@%')")
        tables = {f"crmdr_t_{i}": sql_type for i, sql_type in enumerate(COLUMN_TYPES)}
        for table, sql_type in tables.items():
            conn.execute(f"CREATE TABLE {table} (c {sql_type})")
            conn.execute(f"INSERT INTO {table} DEFAULT VALUES")  # a row (hashed even when NULL)
        conn.execute("CREATE TABLE crmdr_t_arrays (a int[], v varchar(9))")  # hashable, but kept on text
        unhashable = unhashable_columns(conn)
        raised = {}
        for table in tables:
            try:
                with conn.transaction():
                    conn.execute(digest_sql(table, "record")).fetchone()
                raised[table] = False
            except psycopg.errors.UndefinedFunction:
                raised[table] = True

    for table, sql_type in tables.items():
        assert (unhashable[table] == []) is COLUMN_TYPES[sql_type], (sql_type, unhashable[table])
        assert raised[table] is not COLUMN_TYPES[sql_type], sql_type
    assert sorted(unhashable["crmdr_t_arrays"]) == ["character varying", "integer[]"]
    assert unhashable["accounts"] == [] and unhashable["activities"] == []


def test_crm_tables_are_digested_with_hash_record_extended(shared_lab: Lab) -> None:
    with _primary(shared_lab) as conn:
        taken = digests(conn)
        as_text = digests(conn, {"accounts": "text"})

    assert {digest.method for digest in taken.values()} == {"record"}
    assert as_text["accounts"].method == "text" and as_text["accounts"].rows == taken["accounts"].rows
    assert as_text["accounts"].checksum != taken["accounts"].checksum
