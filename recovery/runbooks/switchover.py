"""Planned switchover with zero data loss, and failback (rebuild the old primary, switch back).

Switchover: stop the primary cleanly (a clean shutdown sends all WAL to the standby), wait
until the standby has replayed past the primary's shutdown checkpoint, promote it, move the
name, and restart the old primary as a standby of the new one. Nothing acknowledged is
lost: the standby holds every WAL record the old primary ever wrote.

Failback: the fenced old primary is rebuilt as a standby of the current one with
`pg_rewind` (falling back to a fresh `pg_basebackup`, the old data kept aside), then the
roles are switched back.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from policies.errors import CheckFailed, DrError, HostError, Refused, VerificationFailed
from recovery.inventory import Inventory
from recovery.runbooks.decisions import Truth, divergence, streaming_stall, timeline_fork
from recovery.runbooks.engine import Step, wait_until
from recovery.runbooks.failover import guard, isolated, promote_step, promoted, validate_step, writes_step
from recovery.runbooks.run import Options, Runbook, RunResult, execute
from recovery.runbooks.site import Site, open_site
from recovery.wal.segments import parse_lsn

CATCH_UP_SECONDS = 120.0
RESTOP_AFTER_SECONDS = 20.0
STREAM_SECONDS = 60.0


def live_primary(site: Site) -> str | None:
    """The node that answers as a running primary, when exactly one does."""
    primaries = [name for name, host in site.hosts.items()
                 if name not in site.unreachable and host.in_recovery() is False]
    return primaries[0] if len(primaries) == 1 else None


def streams_from(site: Site, standby: str, upstream: str) -> Truth:
    try:
        rows = site.host(upstream).replication()
    except DrError as err:
        return Truth(False, f"{upstream} does not answer ({err})")
    states = {name: state for name, state, _ in rows}
    state = states.get(standby, "not connected")
    return Truth(state == "streaming", f"{standby} -> {upstream}: {state}")


def _streaming_step(site: Site, options: Options, name: str, phase: str, standby: str, upstream: str, *,
                    or_promoted: bool = False) -> Step:
    """Wait for streaming with a progress line every ~5 s naming the standby's own complaint; when it
    never streams, the error quotes the server's log (e.g. a timeline it cannot follow)."""

    def check() -> Truth:
        truth = streams_from(site, standby, upstream)
        if truth.done:
            return truth
        try:
            problems = site.host(standby).log_problems()
        except DrError:
            problems = []
        return Truth(False, f"{truth.detail}; {streaming_stall(standby, upstream, problems)}")

    return Step(name, f"wait until {standby} streams from {upstream}", phase,
                check=lambda: _either(promoted(site, standby), lambda: streams_from(site, standby, upstream))
                if or_promoted else streams_from(site, standby, upstream),
                act=lambda: wait_until(check, STREAM_SECONDS, f"{standby} streaming from {upstream}",
                                       progress=options.report))


def writes_stopped(site: Site, source: str) -> Truth:
    host = site.host(source)
    if not host.running():
        return Truth(True, f"{source} is stopped")
    role = host.in_recovery()
    return Truth(role is True, f"{source} is {'a standby' if role else 'a running primary'}")


def caught_up(site: Site, source: str, target: str) -> Truth:
    """The target replayed past the source's shutdown checkpoint (or is already promoted)."""
    if promoted(site, target).done:
        return Truth(True, f"{target} is already the primary")
    control = site.host(source).controldata()
    state, checkpoint = control.get("Database cluster state", ""), control.get("Latest checkpoint location", "")
    if state != "shut down":
        return Truth(False, f"{source} is '{state}', not cleanly shut down")
    row = site.host(target).query("SELECT pg_last_wal_replay_lsn()::text")
    replayed = str(row[0]) if row and row[0] else "0/0"
    done = parse_lsn(replayed) > parse_lsn(checkpoint)
    return Truth(done, f"{target} replayed {replayed}, {source} shut down at {checkpoint}")


def _catch_up(site: Site, options: Options, source: str, target: str) -> str:
    """Wait until `target` replayed past `source`'s shutdown checkpoint.

    A standby cut off while the source shut down never receives that checkpoint: streaming died
    with the source. So every RESTOP_AFTER_SECONDS the source is started again (still the primary;
    the name still points there), given until the standby streams, and stopped cleanly once more.
    When the budget runs out the source is left running as the primary: never no primary.
    """
    deadline = time.monotonic() + CATCH_UP_SECONDS

    def left() -> float:
        return max(deadline - time.monotonic(), 0.1)

    while True:
        try:
            return wait_until(lambda: caught_up(site, source, target), min(RESTOP_AFTER_SECONDS, left()),
                              f"{target} catching up", progress=options.report)
        except VerificationFailed as err:
            reason = str(err)
        options.report(f"{reason}; starting {source} again so {target} can stream its WAL")
        site.host(source).start()
        try:
            wait_until(lambda: streams_from(site, target, source), left(), f"{target} streaming from {source}",
                       progress=options.report)
        except VerificationFailed as err:
            raise VerificationFailed(f"{reason}; then {err}. {source} runs as the primary again: no switchover "
                                     f"happened, writes go on there; resume once {target} streams") from None
        site.host(source).stop("fast")


def rejoined(site: Site, node: str, upstream: str) -> Truth:
    host = site.host(node)
    if not host.running() or host.in_recovery() is not True:
        return Truth(False, f"{node} is not running as a standby")
    return Truth(host.upstream() == site.node(upstream).host, f"{node} streams from {host.upstream() or 'nobody'}")


def base_sync_config(site: Site, name: str) -> Truth:
    """synchronous_standby_names comes from the base configuration, not a failover's override."""
    row = site.host(name).query("SELECT coalesce(sourcefile, ''), setting FROM pg_settings "
                                "WHERE name = 'synchronous_standby_names'")
    source, setting = (str(row[0]), str(row[1])) if row else ("?", "?")
    override = source.endswith("postgresql.auto.conf")
    return Truth(not override, f"synchronous_standby_names '{setting}' from {source or 'the defaults'}")


def _resync(site: Site, name: str) -> str:
    site.host(name).execute("ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()")
    return f"{name}: synchronous_standby_names back to its configured value"


def _demote(site: Site, node: str, upstream: str, stamp: str) -> str:
    """Restart `node` as a standby of `upstream`; a forked node (restored, or promoted on its own) is
    rewound or re-cloned first, since it could never stream."""
    host = site.host(node)
    host.stop("fast")
    host.write_passfile()
    forked = _forked(site, node, upstream)
    how = f"{forked}: {_resync_data(site, node, upstream, stamp)}; " if forked else ""
    host.write_host_conf(site.node(upstream))
    host.set_standby_signal(True)
    host.start()
    return f"{how}{node} restarted as a standby of {upstream}"


def _forked(site: Site, node: str, upstream: str) -> str | None:
    """Why the stopped `node` cannot follow `upstream` (a timeline ahead, or WAL past the fork)."""
    control = site.host(node).controldata()
    timeline = int(control.get("Latest checkpoint's TimeLineID", "0") or 0)
    row = site.host(upstream).query(
        "SELECT greatest((SELECT timeline_id FROM pg_control_checkpoint()), coalesce((SELECT max(('x' || "
        "left(name, 8))::bit(32)::int) FROM pg_ls_waldir() WHERE right(name, 8) = '.history'), 0))")
    upstream_timeline = int(row[0]) if row and row[0] is not None else 0
    return timeline_fork(node, timeline, upstream, upstream_timeline) or _still_diverged(site, node, upstream)


def _resync_data(site: Site, node: str, upstream: str, stamp: str) -> str:
    """pg_rewind from the upstream, else a fresh pg_basebackup (the old data kept aside). A rewind cut
    off half-way is never rewound again (its data is neither old nor new): it is re-cloned."""
    host = site.host(node)
    host.set_standby_signal(False)
    if host.rewind_interrupted():
        return _reclone(site, node, upstream, stamp, f"an earlier pg_rewind of {node} did not finish")
    try:
        said = host.rewind(site.node(upstream))  # pg_rewind's own last line names it: "pg_rewind: Done!"
        how = said if said.startswith("pg_rewind") else f"pg_rewind: {said}"
    except HostError as err:
        failed = f"pg_rewind of {node} from {upstream} failed ({err})"
        try:
            site.host(upstream).query("SELECT 1")
        except HostError as down:
            raise HostError(f"{failed}; {upstream} does not answer ({down}): resume once it does") from None
        return _reclone(site, node, upstream, stamp, failed)
    why = _still_diverged(site, node, upstream)
    return _reclone(site, node, upstream, stamp, f"{how}, yet {why}") if why else how


def _reclone(site: Site, node: str, upstream: str, stamp: str, why: str) -> str:
    """A fresh base backup of `node`; its evidence, or its failure, keeps the reason it was needed."""
    try:
        return f"{why}; {site.host(node).reclone(site.node(upstream), stamp)}"
    except HostError as err:
        raise HostError(f"{why}; then {err}") from None


def switch_steps(site: Site, options: Options, source: str, target: str) -> list[Step]:
    src = site.host(source)
    return [
        Step("stop-writes", f"stop {source} cleanly (pg_ctl stop -m fast)", "fence",
             check=lambda: writes_stopped(site, source), act=lambda: src.stop("fast"),
             guard=lambda: guard(site, source, "stop writes", want_primary=True), timeout=120, attempts=2),
        Step("catch-up", f"wait until {target} replayed all of {source}'s WAL", "promote",
             check=lambda: caught_up(site, source, target),
             act=lambda: _catch_up(site, options, source, target), attempts=1,
             timeout=CATCH_UP_SECONDS + 200),
        promote_step(site, target),
        Step("dns", f"point {site.inventory.dns.record_name} at {target} (secondary {source})", "dns",
             check=lambda: site.dns_truth(target, source), act=lambda: site.point_dns(target, source)),
        *site.app_steps(target),
        Step("rejoin", f"restart {source} as a standby of {target} (rewound or re-cloned when forked)",
             "validate", check=lambda: rejoined(site, source, target),
             act=lambda: _demote(site, source, target, options.run_id.rsplit("-", 1)[-1]),
             guard=lambda: guard(site, source, "rejoin", want_primary=False), timeout=3600, attempts=2),
        _streaming_step(site, options, "rejoin-streaming", "validate", source, target),
        writes_step(site, target),
        Step("resync", f"restore {target}'s configured synchronous replication", "validate",
             check=lambda: base_sync_config(site, target), act=lambda: _resync(site, target)),
        validate_step(site, options, target),
    ]


def _switch_resolve(site: Site, options: Options) -> Options:
    if options.target:
        return options
    primary = live_primary(site)
    if primary is None:
        raise CheckFailed("switchover needs exactly one running primary and a reachable standby; "
                          "use `crmdr failover` when the primary is down")
    return replace(options, target=site.other(primary))


def _switch_preflight(site: Site, options: Options, truths: Sequence[Truth]) -> str:
    target = str(options.target)
    source = site.other(target)
    if site.unreachable:
        raise CheckFailed(f"switchover needs both hosts: {'; '.join(site.unreachable.values())}")
    if not truths[0].done:
        stream = streams_from(site, target, source)
        if not stream.done:
            raise Refused(f"{target} is not streaming from {source} ({stream.detail}); a switchover "
                          "would lose writes: repair replication first")
        return f"{stream.detail}"
    return f"{source} already stopped; resuming"


SWITCHOVER = Runbook(
    name="switchover", resolve=_switch_resolve,
    steps=lambda site, options: switch_steps(site, options, site.other(str(options.target)), str(options.target)),
    preflight=_switch_preflight, primary_after=lambda site, options: str(options.target),
)


def _unisolate(site: Site, node: str) -> str:
    """Lift a failover's isolation of `node`, reconnect and fence it at once (stop, standby.signal).

    The node may be a stale primary behind its isolation (a network cut): it is stopped before
    anything else, and isolated again when it cannot be reached once released.
    """
    if node not in site.unreachable:
        return ""
    if site.isolator is None or not isolated(site, node).done:
        raise CheckFailed(f"{node} is unreachable: {site.unreachable[node]}")
    how = site.isolator.release(site.node(node))
    host = site.host(node)
    try:
        host.runner.run("true", timeout=30)
    except HostError:
        site.isolator.isolate(site.node(node))
        raise
    del site.unreachable[node]
    host.down = None
    stopped = host.stop("immediate")
    host.set_standby_signal(True)
    refusal = guard(site, node, "rebuild", want_primary=False)
    if refusal:
        raise Refused(refusal)
    return f"{how}; fenced ({stopped}, standby.signal); "


def _rebuild(site: Site, node: str, upstream: str, stamp: str) -> str:
    released = _unisolate(site, node)
    site.host(upstream).query("SELECT 1")  # an unreachable upstream fails here, before the data is touched
    host = site.host(node)
    host.stop("fast")
    host.write_passfile()
    how = _resync_data(site, node, upstream, stamp)
    host.write_host_conf(site.node(upstream))
    host.set_standby_signal(True)
    host.start()
    return f"{released}{how}"


def _still_diverged(site: Site, node: str, upstream: str) -> str | None:
    """Check the rewound node against the upstream's timeline history (see `divergence`)."""
    control = site.host(node).controldata()
    timeline = int(control.get("Latest checkpoint's TimeLineID", "0") or 0)
    ends = [control.get("Minimum recovery ending location", "0/0"), control.get("Latest checkpoint location", "0/0")]
    end = max(ends, key=parse_lsn)
    # The newest history file, not pg_control_checkpoint(): right after a promotion the control
    # file still names the old timeline until the next checkpoint.
    row = site.host(upstream).query(
        "SELECT pg_read_file('pg_wal/' || name) FROM pg_ls_waldir() WHERE right(name, 8) = '.history' "
        "ORDER BY name DESC LIMIT 1")
    return divergence(timeline, end, str(row[0]) if row else "")


def _either(first: Truth, second: Callable[[], Truth]) -> Truth:
    """`first` when it holds (failback already switched back), else `second`."""
    return first if first.done else second()


def _failback_steps(site: Site, options: Options) -> list[Step]:
    home = str(options.target)
    current = site.other(home)
    stamp = options.run_id.rsplit("-", 1)[-1]
    return [
        Step("rebuild", f"rebuild {home} as a standby of {current} (pg_rewind, else pg_basebackup)", "rebuild",
             check=lambda: _either(promoted(site, home), lambda: rejoined(site, home, current)),
             act=lambda: _rebuild(site, home, current, stamp),
             guard=lambda: None if home in site.unreachable else guard(site, home, "rebuild", want_primary=False),
             timeout=3600, attempts=1),
        _streaming_step(site, options, "rebuild-streaming", "rebuild", home, current, or_promoted=True),
        *switch_steps(site, options, current, home),
    ]


def _failback_preflight(site: Site, options: Options, truths: Sequence[Truth]) -> str:
    home = str(options.target)
    current = site.other(home)
    fenced_off = home in site.unreachable and isolated(site, home).done
    missing = [why for name, why in site.unreachable.items() if not (name == home and fenced_off)]
    if missing:
        raise CheckFailed(f"failback needs both hosts: {'; '.join(missing)}")
    if not truths[0].done and site.host(current).in_recovery() is not False:
        raise Refused(f"{current} is not a running primary, so there is nothing to fail back from; "
                      f"failback returns to {home} only after a failover to {current}")
    if not truths[0].done and not fenced_off and site.host(home).running() \
            and site.host(home).in_recovery() is False and site.host(current).in_recovery() is False:
        raise Refused(f"both {home} and {current} are running primaries (split brain): "
                      "stop the one that must not take writes first")
    lifted = ", once its isolation is lifted and it is fenced" if fenced_off else ""
    return f"{current} is the primary; {home} will be rebuilt from it{lifted}"


FAILBACK = Runbook(
    name="failback",
    resolve=lambda site, options: replace(options, target=options.target or site.inventory.database.primary.name),
    steps=_failback_steps, preflight=_failback_preflight, primary_after=lambda site, options: str(options.target),
)


def _run(runbook: Runbook, inventory: Inventory, options: Options) -> RunResult:
    site = open_site(inventory, options.policy)
    try:
        return execute(runbook, site, options)
    finally:
        site.close()


def run_switchover(inventory: Inventory, options: Options) -> RunResult:
    """Swap roles with zero data loss; the old primary becomes a standby of the new one."""
    return _run(SWITCHOVER, inventory, options)


def run_failback(inventory: Inventory, options: Options) -> RunResult:
    """Rebuild the inventory's primary from the current one, then switch back to it."""
    return _run(FAILBACK, inventory, options)
