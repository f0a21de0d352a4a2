"""Unplanned failover for `engine: rds`: fence the old primary, promote the cross-region read
replica (or restore the newest snapshot copied into the DR region), stop the old primary,
move the name, re-point the app hosts, validate.

Fencing: RDS refuses to stop an instance that still has read replicas, so before promotion
the old primary is rebooted into a parameter group with `default_transaction_read_only=on`
(`crmdr-fence-postgresNN`); once the promotion has detached the replica it is stopped
(`stop_db_instance`). When the primary region does not answer, nothing there can be
confirmed: the run refuses (exit 3) unless `--force-unfenced`, and then the only isolation is
DNS (the name stops pointing at the old endpoint), recorded as such in the journal.

Validation is what can be verified: `describe` says available and not a replica; a SQL write
is attempted and, when SQL cannot reach the endpoint from here (always so in the moto lab),
the evidence says `validation: describe-only`.
"""

from collections.abc import Sequence
from dataclasses import replace

from policies.errors import CheckFailed, DrError, Refused, VerificationFailed
from recovery.adapters.rds import fence_group
from recovery.inventory import Inventory
from recovery.runbooks.app_hosts import app_hosts_steps
from recovery.runbooks.decisions import Truth, lag_limitation
from recovery.runbooks.engine import Step
from recovery.runbooks.rds_decisions import (
    USABLE,
    is_replica,
    rds_fenced,
    rds_stopped,
    recovery_target,
    snapshot_age_seconds,
    standalone,
)
from recovery.runbooks.rds_site import RdsSite, open_rds_site
from recovery.runbooks.run import Options, Runbook, RunResult, execute

PROMOTE_TIMEOUT = 3600.0


def _fence_group(site: RdsSite) -> str:
    old = site.old() or {}
    return fence_group(str(old.get("EngineVersion", "15")))


def fenced(site: RdsSite, forced: list[str]) -> Truth:
    if forced:
        return Truth(True, f"NOT FENCED (forced): {forced[0]}; isolation is DNS-only")
    if site.unreachable:
        return Truth(False, f"the primary region does not answer: {site.unreachable}")
    return rds_fenced(site.old(), site.primary.instance_id, _fence_group(site))


def _fence_step(site: RdsSite, options: Options) -> Step:
    forced: list[str] = []
    name = site.primary.instance_id

    def act() -> str:
        if site.unreachable:
            if not options.force_unfenced:
                raise Refused(f"cannot fence {name}: {site.unreachable}; pass --force-unfenced to rely on "
                              "DNS alone (the old endpoint may still take writes from clients that bypass it)")
            forced.append(site.unreachable)
            return f"NOT FENCED: {site.unreachable}; continuing because --force-unfenced; isolation is DNS-only"
        old = site.old()
        if old is None:
            return f"{name} does not exist"
        return site.rds.fence_read_only(site.primary.region, old)

    def guard() -> str | None:
        old = None if site.unreachable else site.old()
        if old is not None and f":{site.primary.region}:" not in str(old.get("DBInstanceArn", "")):
            return f"refusing to fence {name}: its ARN {old.get('DBInstanceArn')} is not in {site.primary.region}"
        return None

    return Step("fence", f"reboot {name} into a read-only parameter group (crmdr-fence-postgresNN)", "fence",
                check=lambda: fenced(site, forced), act=act, guard=guard, attempts=2, timeout=600)


def _promote(site: RdsSite, target: str) -> str:
    found = site.instance(target)
    if found is not None and found.get("ReadReplicaSourceDBInstanceIdentifier"):
        site.rds.promote(target)
        how = f"promote_read_replica {target}"
    elif found is None:
        snapshot = site.rds.newest_snapshot(site.primary.instance_id)
        if snapshot is None:
            raise CheckFailed(f"no available snapshot of {site.primary.instance_id} in {site.rds.dr_region}")
        site.rds.restore(str(snapshot["DBSnapshotIdentifier"]), target,
                         {"crmdr:stack": site.inventory.stack, "crmdr:restored-from":
                          str(snapshot["DBSnapshotIdentifier"]), "crmdr:role": "primary"})
        how = f"restored {snapshot['DBSnapshotIdentifier']} (taken {snapshot['SnapshotCreateTime']}) into {target}"
    else:
        how = f"{target} exists ({found.get('DBInstanceStatus')})"
    site.rds.wait_available(site.rds.dr_region, target)
    return how


def _stop_old(site: RdsSite, forced: Truth) -> Truth:
    if site.unreachable:
        return Truth(forced.done, f"the primary region does not answer; {forced.detail}")
    return rds_stopped(site.old(), site.primary.instance_id)


def _stop(site: RdsSite) -> str:
    site.rds.stop(site.primary.region, site.primary.instance_id)
    return f"stop_db_instance {site.primary.instance_id}"


def _validate(site: RdsSite, target: str) -> str:
    found = site.instance(target)
    truth = standalone(found, target)
    if not truth.done:
        raise VerificationFailed(f"{target} is not a writable primary: {truth.detail}")
    endpoint = (found or {}).get("Endpoint") or {}
    address, port = str(endpoint.get("Address")), int(endpoint.get("Port", 5432))
    resolved = site.dns.resolve()
    if resolved != address:
        raise VerificationFailed(f"{site.inventory.dns.record_name} resolves to {resolved}, not {address}")
    sql = site.sql_check(address, port)
    if sql == "sql: read-only":
        raise VerificationFailed(f"{target} answers SQL but is read-only")
    mode = sql or f"validation: describe-only (no SQL connection to {address} from here; nothing beyond " \
                  "describe_db_instances was verified)"
    return f"{truth.detail}; {site.inventory.dns.record_name} -> {address}; {mode}"


def _steps(site: RdsSite, options: Options) -> list[Step]:
    target = str(options.target)
    fence = _fence_step(site, options)
    address = lambda: site.endpoint(target)  # noqa: E731  # resolved once the instance exists
    return [
        fence,
        Step("promote", f"promote the replica {target}, else restore the newest DR snapshot into it", "promote",
             check=lambda: standalone(site.instance(target), target), act=lambda: _promote(site, target),
             attempts=1, timeout=PROMOTE_TIMEOUT),
        Step("stop-old", f"stop {site.primary.instance_id} (stop_db_instance) now that no replica hangs on it",
             "fence", check=lambda: _stop_old(site, fence.check()), act=lambda: _stop(site), attempts=2),
        Step("dns", f"point {site.inventory.dns.record_name} (CNAME) at {target}'s endpoint", "dns",
             check=lambda: site.dns_truth(address()), act=lambda: site.point_dns(address())),
        *app_hosts_steps(site.apps, address, f"{target}'s endpoint"),
        _validate_step(site, options, target),
    ]


def _validate_step(site: RdsSite, options: Options, target: str) -> Step:
    """Nothing persistent marks a describe-only validation: it counts once per run."""
    seen: list[str] = ["validated earlier in this run"] if "validate" in options.done_in_run else []

    def act() -> str:
        seen.append(_validate(site, target))
        return seen[-1]

    return Step("validate", f"{target} available and not a replica (describe); SQL write when reachable",
                "validate", check=lambda: Truth(bool(seen), seen[-1] if seen else "not validated in this run"),
                act=act, verify=lambda: Truth(True, ""), attempts=2)


def _resolve(site: RdsSite, options: Options) -> Options:
    """The instance that becomes the primary: the replica, or a restore target (recorded for --resume)."""
    if options.target:
        names = {n.name: n.instance_id for n in (site.primary, site.standby)}
        return replace(options, target=names.get(options.target, options.target))
    standby = site.standby.instance_id
    replica = site.instance(standby)
    usable = replica is not None and (not is_replica(replica) or str(replica.get("DBInstanceStatus")) in USABLE)
    snapshot = None if usable else site.rds.newest_snapshot(site.primary.instance_id)
    decision = recovery_target(standby, replica, snapshot)
    if isinstance(decision, str):
        raise CheckFailed(decision)
    return replace(options, target=decision[1])


def _data_at_risk(site: RdsSite, target: str) -> tuple[float | None, str]:
    """Seconds of writes a promotion (replica lag) or a restore (snapshot age) may lose."""
    found = site.instance(target)
    if found is not None and is_replica(found):
        lag = site.rds.replica_lag(target, site.clock.now())
        return lag, f"replica {target} ReplicaLag {'unknown' if lag is None else f'{lag:g}s'} (CloudWatch, 5 min max)"
    snapshot = site.rds.newest_snapshot(site.primary.instance_id)
    if snapshot is None:
        raise CheckFailed(f"no replica and no available snapshot of {site.primary.instance_id} in {site.rds.dr_region}")
    age = snapshot_age_seconds(snapshot, site.clock.now())
    return age, f"restore of {snapshot['DBSnapshotIdentifier']} loses the last {age:.0f}s at least"


def _preflight(site: RdsSite, options: Options, truths: Sequence[Truth]) -> str:
    try:
        site.lock.current()
    except DrError as err:
        raise CheckFailed(f"the DR region is not reachable: {err}") from None
    target = str(options.target)
    if not truths[0].done and site.unreachable and not options.force_unfenced:
        raise Refused(f"cannot fence {site.primary.instance_id}: {site.unreachable}; isolate it by hand and "
                      "re-run, or pass --force-unfenced (isolation then is DNS-only)")
    if truths[1].done:
        return f"{target} is already a standalone primary"
    lag, what = _data_at_risk(site, target)
    limitation = lag_limitation(lag, site.tier.max_replication_lag, accept_data_loss=options.accept_data_loss,
                                synchronous=False)
    if limitation:
        raise Refused(f"{what}: {limitation}")
    return f"{what}; old primary {site.primary.instance_id} {'unreachable' if site.unreachable else 'reachable'}"


RDS_FAILOVER: Runbook[RdsSite] = Runbook(
    name="failover", resolve=_resolve, steps=_steps, preflight=_preflight,
    primary_after=lambda site, options: str(options.target),
)


def run_rds_failover(inventory: Inventory, options: Options) -> RunResult:
    """Fail over an `engine: rds` inventory; see the module docstring."""
    site = open_rds_site(inventory, options.policy)
    try:
        return execute(RDS_FAILOVER, site, options)
    finally:
        site.close()
