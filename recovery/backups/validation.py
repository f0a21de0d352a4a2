"""What "the CRM came back intact" means, as SQL text and pure comparisons returning reasons.

Used after a restore-test and by the failover runbook. The per-table digest is a row count
and an order-independent checksum (the sum of each row's 64-bit `hashtextextended`, the
hash PostgreSQL keeps stable for hash partitioning; twice as fast as md5 here), so it needs
no sort and no memory proportional to the table; a deleted, added or edited row changes it.
Row text depends on session settings: run `SESSION_SETTINGS` first.
The database adapter that executes these lives in recovery/adapters/pg_validation.py.
"""

from collections.abc import Collection, Mapping

from pydantic import BaseModel, ConfigDict, Field

# Rows written by the drills' probe during the backup itself: compared by the RPO ledger,
# not by the recovery point's digest.
VOLATILE_TABLES = frozenset({"crmdr_probe"})

SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)

LIST_TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""

# Each query returns the number of rows breaking the invariant named by its key.
INVARIANTS: dict[str, str] = {
    "every contact's account exists": """
        SELECT count(*) FROM contacts c
        WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = c.account_id)""",
    "every opportunity's account exists": """
        SELECT count(*) FROM opportunities o
        WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = o.account_id)""",
    "every case's account exists": """
        SELECT count(*) FROM cases k
        WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account_id)""",
    "every case's contact exists and belongs to the case's account": """
        SELECT count(*) FROM cases k LEFT JOIN contacts c ON c.id = k.contact_id
        WHERE c.id IS NULL OR c.account_id <> k.account_id""",
    "every activity's contact exists": """
        SELECT count(*) FROM activities t
        WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = t.contact_id)""",
    "every activity's opportunity exists": """
        SELECT count(*) FROM activities t
        WHERE t.opportunity_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM opportunities o WHERE o.id = t.opportunity_id)""",
    "every closed case is closed after it opened": """
        SELECT count(*) FROM cases WHERE closed_at IS NOT NULL AND closed_at < opened_at""",
}

# btree indexes of the public schema, for amcheck's bt_index_check (read-only, AccessShareLock).
AMCHECK_SQL = """
SELECT c.relname, bt_index_check(c.oid, true) FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE am.amname = 'btree' AND n.nspname = 'public' AND c.relpersistence <> 't'
ORDER BY c.relname
"""


_DIGEST_SQL = (
    "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text "
    "FROM {table} AS t"
)


class TableDigest(BaseModel):
    """Row count and content checksum of one table at one point."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(ge=0)
    checksum: str


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def digest_sql(table: str) -> str:
    """Count and checksum of `table` in one scan."""
    return _DIGEST_SQL.format(table=quote_ident(table))


def digest_tables(names: list[str]) -> list[str]:
    """The tables a recovery point's digest covers."""
    return sorted(name for name in names if name not in VOLATILE_TABLES)


def compare_digests(expected: Mapping[str, TableDigest], actual: Mapping[str, TableDigest],
                    unstable: Collection[str] = ()) -> list[str]:
    """Reasons the restored tables differ from the recovery point's digest (empty: identical).

    `unstable` tables were written while the point was taken: present, but not compared.
    """
    reasons: list[str] = []
    for table in sorted(expected):
        want, got = expected[table], actual.get(table)
        if got is None:
            reasons.append(f"table {table} is missing after restore")
        elif got.rows != want.rows:
            reasons.append(f"table {table} has {got.rows} rows, the recovery point recorded {want.rows}")
        elif got.checksum != want.checksum:
            reasons.append(f"table {table} content checksum differs from the recovery point's "
                           f"({got.checksum} != {want.checksum})")
    reasons.extend(f"table {table} exists after restore but not in the recovery point"
                   for table in sorted(set(actual) - set(expected) - set(unstable)))
    return reasons


def invariant_reasons(violations: Mapping[str, int]) -> list[str]:
    """One reason per broken CRM invariant, with the number of offending rows."""
    return [f"CRM invariant broken: {name} ({count} rows violate it)"
            for name, count in violations.items() if count]
