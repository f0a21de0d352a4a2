"""What "the CRM came back intact" means, as SQL text and pure comparisons returning reasons.

Used after a restore-test and by the failover runbook. The per-table digest is a row count
and an order-independent checksum (the sum of one 64-bit hash per row), so it needs no sort
and no memory proportional to the table; a deleted, added or edited row changes it. Two
methods, recorded per table in the manifest: `record` hashes each column with its type's
extended hash function (`hash_record_extended`, PostgreSQL 14+; 2.4x faster on the lab's CRM
tables), `text` hashes the row's text (`hashtextextended(t::text)`), for servers before 14 and
tables with a column type that has no extended hash function (json, point, xml, ...), where
hash_record_extended raises. Row text depends on session settings: run `SESSION_SETTINGS` first.
The database adapter that executes these lives in recovery/adapters/pg_validation.py.
"""

from collections.abc import Collection, Mapping
from typing import Literal

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

# btree indexes of the public schema, largest first, for amcheck's bt_index_check (read-only,
# AccessShareLock), each index a check of its own so they spread over connections.
AMCHECK_INDEXES_SQL = """
SELECT c.oid FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE am.amname = 'btree' AND n.nspname = 'public' AND c.relpersistence <> 't'
ORDER BY pg_relation_size(c.oid) DESC, c.relname
"""


# Per public table, the column types (domains resolved to their base type) that have no
# default hash operator class with an extended hash function (support function 2), which is
# what hash_record_extended looks up per column. Arrays, composites, ranges and domains over
# domains are listed too (their hashing depends on further types): they keep the text method.
UNHASHABLE_COLUMNS_SQL = """
SELECT c.relname, coalesce(array_agg(DISTINCT format_type(a.atttypid, NULL)) FILTER (WHERE NOT EXISTS (
    SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
    JOIN pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
     AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
    WHERE oc.opcdefault AND base.typtype IN ('b', 'e') AND base.typcategory <> 'A'
      AND (oc.opcintype = base.oid OR (base.typtype = 'e' AND oc.opcintype = 'anyenum'::regtype)))),
    '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type ty ON ty.oid = a.atttypid
JOIN pg_type base ON base.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') GROUP BY c.relname
"""

DigestMethod = Literal["text", "record"]
TEXT: DigestMethod = "text"
RECORD_SINCE = 140000  # server_version_num of the first release with hash_record_extended

_DIGEST_SQL = "SELECT count(*), coalesce(sum({row_hash}), 0)::text FROM {table} AS t"
_ROW_HASH: dict[DigestMethod, str] = {
    "text": "hashtextextended(t::text, 0)",
    "record": "hash_record_extended(t, 0)",
}


class TableDigest(BaseModel):
    """Row count and content checksum of one table at one point, and how the checksum was made.

    A manifest written before `method` existed has no such field: its digests are `text`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(ge=0)
    checksum: str
    method: DigestMethod = TEXT


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def digest_sql(table: str, method: DigestMethod = TEXT) -> str:
    """Count and checksum of `table` in one scan, each row hashed by `method`."""
    return _DIGEST_SQL.format(row_hash=_ROW_HASH[method], table=quote_ident(table))


def digest_method(server_version: int, unhashable: Collection[str]) -> DigestMethod:
    """`record` where it cannot raise: a 14+ server and no column type without an extended hash."""
    return "record" if server_version >= RECORD_SINCE and not unhashable else TEXT


def recorded_methods(expected: Mapping[str, TableDigest], server_version: int,
                     unhashable: Mapping[str, Collection[str]]) -> tuple[dict[str, DigestMethod], dict[str, str]]:
    """Each expected table's recorded method, and per table this server cannot digest so, why."""
    methods: dict[str, DigestMethod] = {}
    impossible: dict[str, str] = {}
    for table, want in sorted(expected.items()):
        if want.method == "record" and digest_method(server_version, unhashable.get(table, ())) != "record":
            cause = (f"column types {', '.join(sorted(unhashable[table]))} have no extended hash function"
                     if unhashable.get(table) else f"server version {server_version} has no hash_record_extended")
            impossible[table] = f"table {table} cannot be digested as the recovery point was ({want.method}): {cause}"
        else:
            methods[table] = want.method
    return methods, impossible


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
        elif got.method != want.method:
            reasons.append(f"table {table} was digested with the {got.method} method, the recovery point "
                           f"with {want.method}")
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
