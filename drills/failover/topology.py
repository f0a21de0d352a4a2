"""The replication topology as the primary reports it, read just before a drill disrupts it.

A tier's requirements (synchronous replication, a lag limit) are judged on this measurement,
never on what the inventory declares: a standby declared synchronous that streams
asynchronously loses acknowledged writes all the same.
"""

from drills.judge import Replication
from policies.errors import DrError
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import HostNode, Inventory


def read_replication(inventory: Inventory) -> Replication:
    """The standby's sync_state and replay lag in the primary's pg_stat_replication."""
    db = inventory.database
    primary, standby = db.primary, db.standby
    if not isinstance(primary, HostNode):
        return Replication("", None, error="the database is not on self-managed hosts (RDS reports no sync_state)")
    from recovery.adapters.postgres import connect

    try:
        password = resolve_secret(db.password, inventory) if db.password else None
        with connect(primary.host, primary.pg_port, user=db.user, password=password, dbname="postgres",
                     timeout=3) as conn:
            row = conn.execute(
                "SELECT coalesce(sync_state, ''), extract(epoch FROM coalesce(replay_lag, '0'))::float "
                "FROM pg_stat_replication WHERE application_name = %s", (standby.name,)).fetchone()
    except DrError as err:
        return Replication("", None, error=f"the primary {primary.name} did not answer ({err})")
    if row is None:
        return Replication("", None)
    return Replication(str(row[0]), float(row[1]))
