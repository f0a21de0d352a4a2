"""The CRM writer: a case and an activity per downtime request, in one transaction.

The case row carries the request id under a UNIQUE constraint (cases.intake_request_id, see
drills/lab/crm_schema.sql and docs/intake.md for real CRMs): a replay killed at any moment
either committed both rows or neither, and a re-run finds the committed case instead of
creating a second one. Replays serialise on an advisory lock, so two at once cannot race.
"""

import logging
from collections.abc import Sequence

import psycopg

from outage.intake.replay import Contact, CrmSnapshot, Entry
from policies.errors import HostError
from recovery.adapters.postgres import one_row

log = logging.getLogger(__name__)

LOCK_KEY = 0x63726D6472  # 'crmdr': the advisory lock every replay takes while writing


class PostgresCrm:
    """Over one open autocommit connection to the CRM's writable node (each write is its own transaction)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def snapshot(self, request_ids: Sequence[str], account_ids: Sequence[int], emails: Sequence[str]) -> CrmSnapshot:
        """What the planner needs, read in four queries however many requests there are."""
        try:
            with self._conn.transaction():
                accounts = {row[0] for row in self._conn.execute(
                    "SELECT id FROM accounts WHERE id = ANY(%s)", (list(account_ids),))}
                by_email = {row[0]: Contact(row[1], row[2]) for row in self._conn.execute(
                    "SELECT lower(email), id, account_id FROM contacts WHERE lower(email) = ANY(%s)",
                    (list(emails),))}
                first: dict[int, int] = dict(self._conn.execute(
                    "SELECT account_id, min(id) FROM contacts WHERE account_id = ANY(%s) GROUP BY account_id",
                    (list(accounts),)).fetchall())
                entered: dict[str, int] = dict(self._conn.execute(
                    "SELECT intake_request_id, id FROM cases WHERE intake_request_id = ANY(%s)",
                    (list(request_ids),)).fetchall())
        except psycopg.Error as err:
            raise HostError(f"reading the CRM for the replay failed: {_reason(err)}") from None
        return CrmSnapshot(frozenset(accounts), by_email, first, entered)

    def enter(self, entry: Entry) -> tuple[int, bool]:
        """(case id, created): the existing case when this request is already in the CRM."""
        conn = self._conn
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                existing = conn.execute("SELECT id FROM cases WHERE intake_request_id = %s",
                                        (entry.request_id,)).fetchone()
                if existing:
                    return int(existing[0]), False
                case_id = int(one_row(conn.execute(
                    "INSERT INTO cases (id, account_id, contact_id, subject, status, priority, opened_at, "
                    "intake_request_id) SELECT coalesce(max(id), 0) + 1, %s, %s, %s, 'open', %s, now(), %s "
                    "FROM cases RETURNING id",
                    (entry.account_id, entry.contact_id, entry.subject, entry.priority, entry.request_id),
                ).fetchone(), "new case")[0])
                conn.execute(
                    "INSERT INTO activities (id, contact_id, kind, notes, occurred_at, intake_request_id) "
                    "SELECT coalesce(max(id), 0) + 1, %s, 'note', %s, now(), %s FROM activities",
                    (entry.contact_id, entry.notes, entry.request_id))
        except psycopg.Error as err:
            raise HostError(f"entering request {entry.reference} into the CRM failed: {_reason(err)}") from None
        return case_id, True


def _reason(err: psycopg.Error) -> str:
    """The server's one-line reason; never the statement's parameters (they hold personal data)."""
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    return primary or type(err).__name__
