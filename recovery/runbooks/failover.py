"""Unplanned failover: fence the old primary, promote the standby, move the name, validate.

Programmatic use (the drills call this):

    from recovery.runbooks.failover import run_failover
    from recovery.runbooks.run import Options
    result = run_failover(inventory, Options(drill=True))
    result.phases  # {"detect": {"start": ..., "end": ...}, "decide": ..., "fence": ..., ...}

Fencing stops the old primary (`pg_ctl stop -m immediate`) and leaves `standby.signal` in
its data directory, so a host brought back later starts read-only and streams from nobody:
it cannot take writes and is never promoted again by a re-run (which is a no-op).
"""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from policies.errors import CheckFailed, DrError, HostError, Refused, VerificationFailed
from recovery.inventory import Inventory
from recovery.ports import Isolator
from recovery.runbooks.decisions import Truth, fenced_lag_limitation, guard_limitation, lag_limitation
from recovery.runbooks.engine import Step, wait_until
from recovery.runbooks.journal.events import RunState
from recovery.runbooks.journal.files import read_runs
from recovery.runbooks.run import Options, Runbook, RunResult, execute
from recovery.runbooks.site import Site, open_site

WRITE_WAIT_SECONDS = 60.0
PROMOTE_WAIT_SECONDS = 60.0  # as pg_ctl promote -t 60 waited before
PROMOTE_POLL_SECONDS = 0.01


def fenced(site: Site, name: str) -> Truth:
    """Cannot take writes: stopped or read-only, and marked so it can only restart as a standby."""
    host = site.host(name)
    running, signalled = host.fence_state()
    if running and host.in_recovery() is not True:
        return Truth(False, f"{name} is running as a primary")
    if not signalled:
        return Truth(False, f"{name} would restart as a primary (no standby.signal)")
    state = "running read-only (in recovery)" if running else "stopped"
    return Truth(True, f"{name} is {state} and carries standby.signal")


def promoted(site: Site, name: str) -> Truth:
    state = site.host(name).in_recovery()
    if state is None:
        return Truth(False, f"PostgreSQL on {name} does not answer")
    return Truth(not state, f"{name} is {'in recovery (a standby)' if state else 'a primary'}")


def accepts_writes(site: Site, name: str) -> Truth:
    unblocked = sync_unblocked(site, name)
    if not unblocked.done:
        return Truth(False, f"commits on {name} would wait for a synchronous standby ({unblocked.detail})")
    try:
        row = site.host(name).query("SELECT pg_is_in_recovery(), txid_current()")
    except DrError as err:
        return Truth(False, f"{name} refuses writes ({err})")
    ok = row is not None and row[0] is False
    return Truth(ok, f"{name} {'committed a write transaction' if ok else 'is read-only'}")


def _other_system_id(site: Site, other: str) -> str | None:
    try:
        return site.host(other).controldata().get("Database system identifier")
    except HostError:
        return None


def guard(site: Site, name: str, action: str, *, want_primary: bool | None) -> str | None:
    """Re-read the host's live identity just before a destructive step (both hosts asked at once: the
    guard stands on the failover's critical path twice)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crmdr-guard") as pool:
        other_id = pool.submit(_other_system_id, site, site.other(name))
        live = site.host(name).identity()
        system_id = other_id.result()
    reason = guard_limitation(action, name, live, want_primary=want_primary, expected_system_id=system_id)
    node = site.node(name)
    if reason is None and node.region not in (site.inventory.regions.primary, site.inventory.regions.dr):
        reason = f"refusing to {action} on {name}: region {node.region} is not a region of this stack"
    return reason


def isolated(site: Site, name: str) -> Truth:
    """Cut off from its clients by the inventory's isolation method (fence by isolation)."""
    if site.isolator is None:
        return Truth(False, f"{name} is unreachable and no isolation method is configured")
    done = site.isolator.is_isolated(site.node(name))
    return Truth(done, f"{name} {'is isolated' if done else 'is not isolated'} "
                       f"({site.inventory.database.isolation.method if site.inventory.database.isolation else ''})")


def fenced_or_isolated(site: Site, name: str) -> Truth:
    """An unreachable host counts as fenced once isolated; a reachable one must be stopped."""
    return isolated(site, name) if name in site.unreachable else fenced(site, name)


def _fence_steps(site: Site, options: Options, old: str) -> Step:
    forced: list[str] = []
    how_isolated: list[str] = []

    def _isolate(isolator: Isolator, unreachable: HostError) -> str:
        try:
            how_isolated.append(isolator.isolate(site.node(old)))
        except DrError as err:
            if not options.force_unfenced:
                raise  # retried (cloud errors), then the run stops, resumable
            forced.append(str(err))
            return f"NOT FENCED: unreachable ({unreachable}) and isolation failed ({err}); --force-unfenced"
        return f"{old} unreachable ({unreachable}); isolated: {how_isolated[0]}"

    def act() -> str:
        host = site.host(old)
        try:
            if old in site.unreachable:
                raise HostError(site.unreachable[old])
            how = host.stop("immediate")
            host.set_standby_signal(True)
        except HostError as err:
            if site.isolator is not None:
                return _isolate(site.isolator, err)
            if not options.force_unfenced:
                raise Refused(f"cannot confirm that {old} is fenced ({err}); isolate it by hand "
                              "(security group, power) and re-run, or pass --force-unfenced") from None
            forced.append(str(err))
            return f"NOT FENCED: {err}; continuing because --force-unfenced"
        return f"{how}; standby.signal written"

    def verify() -> Truth:
        if forced:
            return Truth(True, "fencing unconfirmed (forced by the operator)")
        return isolated(site, old) if how_isolated else fenced(site, old)

    return Step("fence", f"stop {old} (pg_ctl stop -m immediate) and mark it a standby; isolate it when "
                "unreachable", "fence",
                check=lambda: fenced_or_isolated(site, old), act=act, verify=verify,
                guard=lambda: None if old in site.unreachable else guard(site, old, "fence", want_primary=None),
                timeout=120, attempts=2)


def sync_unblocked(site: Site, name: str) -> Truth:
    """Commits cannot hang waiting for a synchronous standby that is gone."""
    try:
        row = site.host(name).query(
            "SELECT current_setting('synchronous_standby_names'), "
            "(SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))")
    except DrError as err:
        return Truth(False, f"{name} does not answer ({err})")
    names, sync = (str(row[0]), int(row[1])) if row else ("?", 0)
    return Truth(names == "" or sync > 0, f"synchronous_standby_names '{names}', {sync} synchronous standby(s)")


def sync_requirement(site: Site, old: str, target: str) -> str:
    """The tier's synchronous-replication requirement against the old primary's pg_stat_replication.

    Said in the preflight's journal line, so an unmet requirement is on record, never only in a
    policy file: '' when the tier does not require it.
    """
    if not site.tier.synchronous_replication:
        return ""
    try:
        row = site.host(old).query("SELECT coalesce(sync_state, '') FROM pg_stat_replication "
                                   "WHERE application_name = %s", (target,))
    except DrError as err:
        return f"; synchronous replication (required by the tier) not measured: {err}"
    state = str(row[0]) if row else ""
    if state in ("sync", "quorum"):
        return f"; synchronous replication (required by the tier) measured true (sync_state '{state}')"
    return (f"; synchronous replication required by the tier, measured false (sync_state "
            f"'{state or 'not streaming'}'): acknowledged writes may be lost")


def _desync(site: Site, name: str) -> str:
    site.host(name).execute("ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()")
    return f"synchronous replication suspended on {name} until a standby rejoins (failback)"


def _promote(site: Site, target: str) -> str:
    """Signal the promotion, then poll the role every 10 ms until it is a primary."""
    how = site.host(target).promote(wait=False)
    return f"{how}; " + wait_until(lambda: promoted(site, target), PROMOTE_WAIT_SECONDS, f"{target} promoting",
                                   every=PROMOTE_POLL_SECONDS)


def promote_step(site: Site, target: str) -> Step:
    return Step("promote", f"promote {target} (pg_ctl promote)", "promote",
                check=lambda: promoted(site, target), act=lambda: _promote(site, target),
                guard=lambda: guard(site, target, "promote", want_primary=False), timeout=120, attempts=2)


def writes_step(site: Site, target: str) -> Step:
    return Step("accept-writes", f"wait until {target} commits a write", "promote",
                check=lambda: accepts_writes(site, target),
                act=lambda: wait_until(lambda: accepts_writes(site, target), WRITE_WAIT_SECONDS,
                                       f"{target} accepting writes"))


def promote_steps(site: Site, target: str) -> list[Step]:
    """Promote `target`, lift a synchronous wait no standby can answer, wait for writes."""
    return [
        promote_step(site, target),
        Step("desync", f"suspend synchronous replication on {target} while it has no standby", "promote",
             check=lambda: sync_unblocked(site, target), act=lambda: _desync(site, target)),
        writes_step(site, target),
    ]


def validate_step(site: Site, options: Options, primary: str) -> Step:
    def act() -> str:
        reasons = site.validate(primary)
        if reasons:
            raise VerificationFailed(f"{primary} failed validation: {'; '.join(reasons)}")
        return f"CRM invariants hold on {primary}; {site.write_through_dns(options.run_id)}"

    return Step("validate", "CRM invariants and a write through the DNS name", "validate",
                check=lambda: site.marker_written(options.run_id), act=act, attempts=2)


def _steps(site: Site, options: Options) -> list[Step]:
    target = options.target or site.inventory.database.standby.name
    old = site.other(target)
    return [
        _fence_steps(site, options, old),
        *promote_steps(site, target),
        Step("dns", f"point {site.inventory.dns.record_name} at {target} only", "dns",
             check=lambda: site.dns_truth(target, target), act=lambda: site.point_dns(target, target)),
        *site.app_steps(target),
        validate_step(site, options, target),
    ]


def lag_seconds(site: Site, old: str, target: str) -> float | None:
    """Replay lag as the old primary reports it, else the age of the standby's last WAL message.

    `replay_lag` is only updated by the standby's replies: when they stop (a cut link) it keeps its
    last, small value until wal_sender_timeout drops the row (60 s by default). So while WAL is
    unreplayed, the age of the last reply counts as lag too."""
    try:
        row = site.host(old).query(
            "SELECT extract(epoch FROM CASE WHEN pg_current_wal_lsn() > replay_lsn "
            "THEN greatest(coalesce(replay_lag, '0'), now() - coalesce(reply_time, now())) "
            "ELSE coalesce(replay_lag, '0') END)::float FROM pg_stat_replication "
            "WHERE application_name = %s", (target,))
        if row:
            return float(row[0])
    except DrError:
        if site.inventory.database.synchronous:
            return None  # no acknowledged commit can be missing; the silence since the cut is no lag
    try:
        row = site.host(target).query(
            "SELECT extract(epoch FROM now() - last_msg_receipt_time)::float FROM pg_stat_wal_receiver")
    except DrError:
        return None
    return float(row[0]) if row and row[0] is not None else None


def _preflight(site: Site, options: Options, truths: Sequence[Truth]) -> str:
    target = options.target or site.inventory.database.standby.name
    old = site.other(target)
    try:
        site.lock.current()
    except DrError as err:
        raise CheckFailed(f"the DR region is not reachable: {err}") from None
    if target in site.unreachable:
        raise CheckFailed(f"the standby {target} is unreachable: {site.unreachable[target]}")
    role = site.host(target).in_recovery()
    if role is None:
        raise CheckFailed(f"PostgreSQL on the standby {target} does not answer; nothing to promote")
    fence_done = truths[0].done
    if not fence_done and old in site.unreachable and site.isolator is None and not options.force_unfenced:
        raise Refused(f"cannot fence {old}: {site.unreachable[old]}; configure database.isolation, isolate it "
                      "by hand and re-run, or pass --force-unfenced")
    # A fenced old primary says nothing about what the standby lacks: only a resumed run, whose first
    # preflight measured before it fenced, skips measuring (the figure is in its journal), or a run
    # replacing a discarded one that fenced it (nothing was written on the old primary since).
    measured = fence_done and (options.resume is not None or _measured_by_discarded(options))
    if fence_done and role and not measured and not options.accept_data_loss:
        fencer = _fenced_by(options)
        raise Refused(fenced_lag_limitation(old, fencer.run if fencer else None, options.invocation("failover"),
                                            str(options.journal_dir)))
    lag = lag_seconds(site, old, target) if role and not measured else 0.0
    limitation = lag_limitation(lag, site.tier.max_replication_lag, accept_data_loss=options.accept_data_loss,
                                synchronous=site.inventory.database.synchronous)
    if limitation:
        raise Refused(limitation)
    shown = "unknown" if lag is None else "measured before the fence" if measured and role else f"{lag:.3f}s"
    requirement = "" if measured or old in site.unreachable else sync_requirement(site, old, target)
    return f"standby {target} {'in recovery' if role else 'already primary'}; lag {shown}; old primary {old} " \
           f"{'unreachable' if old in site.unreachable else 'reachable'}{requirement}"


def _fenced_by(options: Options) -> RunState | None:
    """The newest failover run in the journal whose fence step succeeded."""
    fencers = [state for state in read_runs(options.journal_dir, "failover") if "fence" in state.done_steps]
    return fencers[-1] if fencers else None


def _measured_by_discarded(options: Options) -> bool:
    """The run being discarded fenced the old primary after measuring an acceptable lag."""
    fencer = _fenced_by(options)
    if fencer is None or fencer.run != options.discard:
        return False
    return options.accept_data_loss or not fencer.options.get("accept_data_loss")


FAILOVER = Runbook(
    name="failover",
    resolve=lambda site, options: replace(options, target=options.target or site.inventory.database.standby.name),
    steps=_steps, preflight=_preflight,
    primary_after=lambda site, options: options.target or site.inventory.database.standby.name,
)


def run_failover(inventory: Inventory, options: Options) -> RunResult:
    """Fail over to the standby (or `options.target`); see the module docstring."""
    if inventory.database.engine == "rds":
        from recovery.runbooks.rds_failover import run_rds_failover

        return run_rds_failover(inventory, options)
    site = open_site(inventory, options.policy)
    try:
        return execute(FAILOVER, site, options)
    finally:
        site.close()
