"""`crmdr restore`: a physical recovery point plus archived WAL onto a named host, to a point in time.

Steps: stop the target (never a running primary: its live role is re-read just before) ->
move its data directory aside (kept as `<data_dir>.crmdr-before-<run>`, nothing is deleted)
-> fetch, verify (SHA-256 while streaming, pg_verifybackup, cluster identity) and extract
the point ON the target (`python -m recovery.adapters.restore_fetch` over Fabric) -> recovery
settings (restore_command = recovery.wal_fetch, recovery_target_time or none,
recovery_target_action = promote, timeline latest, recovery.signal) -> start -> wait until
promoted -> clear the recovery target -> validate and record evidence.

The restored server is a standalone primary on a new timeline. It archives nothing
(archive_command = ''), so it cannot push WAL into the production repository; WAL piles up
in its pg_wal until archiving is re-installed with `crmdr backup wal install`. DNS is not
moved. Every step's check reads the target's files and role, so `--resume` converges.
"""

import json
import shlex
import sys
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from policies.errors import CheckFailed, ConfigError, DrError, HostError, Refused, VerificationFailed
from recovery.adapters.pg_host import PgHost
from recovery.backups.pitr import ArchivedFile, Refusal, RestorePlan, choose, parse_time
from recovery.inventory import Inventory
from recovery.runbooks.decisions import Truth, guard_limitation
from recovery.runbooks.engine import Step, wait_until
from recovery.runbooks.failover import guard, promoted
from recovery.runbooks.journal.files import read_events
from recovery.runbooks.run import Options, Runbook, RunResult, execute
from recovery.runbooks.site import Site, open_site
from recovery.wal.archive import remote_inventory_path
from recovery.wal.partials import parse_chunk, replay_evidence, replay_note, restorable
from recovery.wal.segments import WAL
from recovery.wal.spool import restore_command
from recovery.wal.streaming import PARTIAL_PREFIX

PROMOTE_WAIT_SECONDS = 900.0
FETCH_SECONDS = 6 * 3600.0
CLEARED = ("restore_command", "recovery_target", "recovery_target_time", "recovery_target_action",
           "recovery_target_timeline", "recovery_target_lsn", "recovery_target_name", "recovery_target_xid",
           "recovery_target_inclusive", "archive_command", "synchronous_standby_names")
MARK = "# crmdr restore"
q = shlex.quote


def conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Restore:
    """One restore run against one target: where its files go, and what it measured."""

    site: Site
    target: str
    run: str
    plan: RestorePlan
    journal_dir: Path
    python: str = sys.executable
    evidence: dict[str, object] = field(default_factory=dict)

    @property
    def host(self) -> PgHost:
        return self.site.host(self.target)

    @property
    def data_dir(self) -> str:
        return self.host.node.data_dir.rstrip("/")

    @property
    def aside(self) -> str:
        return f"{self.data_dir}.crmdr-before-{self.run}"

    @property
    def original_pointer(self) -> str:
        """A file naming the directory that holds the data the host had before the first restore."""
        return f"{self.data_dir}.crmdr-original"

    @property
    def restoring(self) -> str:
        """Present while the data directory is an unfinished restore's (its content is no one's data)."""
        return f"{self.data_dir}.crmdr-restoring"

    def original(self) -> str:
        """Where the host's own data is: the pointer's directory, else this run's aside."""
        out = self.host.sh(f"cat {q(self.original_pointer)} 2>/dev/null || true", timeout=30).strip()
        return out or self.aside

    @property
    def marker(self) -> str:
        return f"{self.data_dir}.crmdr-restore-{self.run}.json"

    @property
    def auto_conf(self) -> str:
        return f"{self.host.data}/postgresql.auto.conf"

    def test(self, expression: str) -> bool:
        return self.host.runner.run(f"test {expression}", timeout=30, check=False).ok

    def log_tail(self) -> str:
        out = self.host.sh(f"tail -n 4 {q(self.host.logfile)} 2>/dev/null || true", timeout=30)
        return " / ".join(line.strip() for line in out.strip().splitlines())


def moved_aside(r: Restore) -> Truth:
    done = r.test(f"-d {q(r.aside)}")
    return Truth(done, f"the data directory {'was moved' if done else 'is not yet moved'} aside to {r.aside}")


def stopped(r: Restore) -> Truth:
    if moved_aside(r).done:
        return Truth(True, "the previous data directory was already moved aside by this run")
    if not r.host.running():
        return Truth(True, f"{r.target} is stopped")
    role = r.host.in_recovery()
    what = "a running primary taking writes (restore refuses it)" if role is False else "a running standby"
    return Truth(False, f"{r.target} is {what}")


def fetched(r: Restore) -> Truth:
    out = r.host.sh(f"cat {q(r.marker)} 2>/dev/null || true", timeout=30)
    try:
        point = json.loads(out).get("point") if out.strip() else None
    except ValueError:
        point = None
    done = point == r.plan.point.id
    return Truth(done, f"recovery point {r.plan.point.id} {'extracted and verified' if done else 'not extracted'}")


def restored_primary(r: Restore) -> bool:
    return moved_aside(r).done and r.host.running() and r.host.in_recovery() is False


def configured(r: Restore) -> Truth:
    if restored_primary(r):
        return Truth(True, f"{r.target} already recovered and promoted")
    marked = r.host.runner.run(f"grep -q {q(f'{MARK} {r.run}')} {r.auto_conf}", timeout=30, check=False).ok
    done = marked and r.test(f"-f {r.host.data}/recovery.signal")
    return Truth(done, f"recovery settings of this run {'written' if done else 'not written'}")


def running(r: Restore) -> Truth:
    done = moved_aside(r).done and r.host.running()
    return Truth(done, f"the restored server on {r.target} is {'running' if done else 'not running'}")


def settled(r: Restore) -> Truth:
    if not restored_primary(r):
        return Truth(False, f"{r.target} is not yet a restored primary")
    left = r.host.runner.run(f"grep -q '^recovery_target' {r.auto_conf}", timeout=30, check=False).ok
    return Truth(not left, f"recovery target settings {'still set' if left else 'cleared'}")


def unfinished_remains(r: Restore) -> str | None:
    """The run whose unfinished restore made the data directory (its files name the point's host)."""
    out = r.host.sh(f"cat {q(r.restoring)} 2>/dev/null || true", timeout=30).strip()
    return out if out and out != r.run else None


def restore_guard(r: Restore) -> str | None:
    """The live role (never a running primary), region, and the point's cluster. The remains of an
    unfinished restore carry the backed-up host's settings, so only a running primary is refused."""
    earlier = unfinished_remains(r)
    if earlier is not None:
        if r.host.running() and r.host.in_recovery() is False:
            return f"refusing to restore a recovery point on {r.target}: it is a running primary"
        return None
    reason = guard(r.site, r.target, "restore a recovery point", want_primary=False)
    if reason:
        return reason
    return guard_limitation("restore a recovery point", r.target, r.host.identity(), want_primary=False,
                            expected_system_id=r.plan.point.cluster.system_identifier)


def _move_aside(r: Restore) -> str:
    """Move the data aside; the pointer to the host's own data moves only when the directory is not
    the remains of an unfinished restore (which hold no one's data)."""
    pointer, restoring = q(r.original_pointer), q(r.restoring)
    r.host.sh(f"if ! {{ test -f {restoring} && test -s {pointer}; }}; then printf %s {q(r.aside)} > {pointer}; fi "
              f"&& mv {r.host.data} {q(r.aside)} && mkdir -m 0700 {r.host.data} && printf %s {q(r.run)} > {restoring}",
              timeout=120)
    original = r.original()
    kept = "" if original == r.aside else f"; the host's own data (before the first restore) stays in {original}"
    return f"mv {r.data_dir} {r.aside}{kept}"


def _fetch(r: Restore) -> str:
    node, inventory = r.host.node, r.site.inventory
    path = remote_inventory_path(node)
    payload = b64encode(inventory.to_json().encode()).decode()
    r.host.sh(f"printf %s {payload} | base64 -d > {q(path)}.tmp && chmod 0644 {q(path)}.tmp && "
              f"mv {q(path)}.tmp {q(path)}", timeout=30)
    # Only ever empties the data directory this run created: the old one is aside.
    r.host.sh(f"test -d {q(r.aside)} && rm -rf {r.host.data} && mkdir -m 0700 {r.host.data}", timeout=600)
    out = r.host.sh(f"cd / && {q(r.python)} -m recovery.adapters.restore_fetch --inventory {q(path)} "
                    f"--point {q(r.plan.point.id)} --data-dir {r.host.data} --bin-dir {q(node.bin_dir)} "
                    f"--marker {q(r.marker)}", timeout=FETCH_SECONDS)
    summary = json.loads(out.strip().splitlines()[-1])
    return f"{summary['bytes']} bytes of {r.plan.point.id} streamed, SHA-256 verified and extracted; " \
           f"{summary['pg_verifybackup']}"


def recovery_lines(r: Restore) -> list[str]:
    inventory_file = remote_inventory_path(r.host.node)
    fetch = restore_command(r.python, inventory_file)
    target = r.plan.target_time
    lines = [f"{MARK} {r.run}: point {r.plan.point.id}, to {target.isoformat() if target else 'end of WAL'}",
             f"restore_command = {conf_value(fetch)}",
             "recovery_target_timeline = 'latest'",
             "archive_command = ''",
             "synchronous_standby_names = ''"]
    if target is not None:
        lines += [f"recovery_target_time = {conf_value(target.isoformat())}", "recovery_target_action = 'promote'"]
    return lines


def _rewrite_auto_conf(r: Restore, drop: Sequence[str], lines: Sequence[str]) -> None:
    pattern = f"^[[:space:]]*({'|'.join(drop)})[[:space:]]*=|^{MARK}"
    quoted = " ".join(q(line) for line in lines)
    r.host.sh(f"{{ grep -v -E {q(pattern)} {r.auto_conf} || true; printf '%s\\n' {quoted}; }} > "
              f"{r.auto_conf}.crmdr-tmp && mv {r.auto_conf}.crmdr-tmp {r.auto_conf}", timeout=30)


def _configure(r: Restore) -> str:
    r.host.write_host_conf(None)
    r.host.set_standby_signal(False)
    _rewrite_auto_conf(r, CLEARED, recovery_lines(r))
    r.host.sh(f"touch {r.host.data}/recovery.signal", timeout=30)
    until = r.plan.target_time.isoformat() if r.plan.target_time else "the end of the archived WAL"
    return f"recovery to {until} from the DR bucket, then promote; archive_command ''"


def _start(r: Restore) -> str:
    try:
        return r.host.start()
    except HostError as err:
        raise VerificationFailed(f"{err}; server log: {r.log_tail()}") from None


def _wait_promoted(r: Restore) -> str:
    def check() -> Truth:
        if not r.host.running():
            raise VerificationFailed(f"PostgreSQL on {r.target} stopped during recovery: {r.log_tail()}")
        return promoted(r.site, r.target)

    return wait_until(check, PROMOTE_WAIT_SECONDS, f"{r.target} finishing recovery and promoting")


def _settle(r: Restore) -> str:
    note = f"{MARK} {r.run}: restored from {r.plan.point.id}; archiving off until `crmdr backup wal install`"
    _rewrite_auto_conf(r, ("recovery_target[a-z_]*",), [note])
    return "recovery target settings removed (a later standby.signal must not stop at the old target)"


def _restore_seconds(r: Restore) -> float | None:
    """From the start of the fetch to the promotion, as the journal recorded them."""
    events = read_events(r.run, r.journal_dir)
    began = next((e.wall for e in events if e.step == "fetch" and e.status == "started"), None)
    ended = next((e.wall for e in events if e.step == "promoted" and e.status in ("succeeded", "skipped")), None)
    if began is None or ended is None:
        return None
    return round((datetime.fromisoformat(ended) - datetime.fromisoformat(began)).total_seconds(), 3)


def _validate(r: Restore) -> str:
    reasons = r.site.validate(r.target)
    if reasons:
        raise VerificationFailed(f"{r.target} failed validation after the restore: {'; '.join(reasons)}")
    row = r.host.query("SELECT pg_last_wal_replay_lsn()::text, pg_walfile_name(pg_current_wal_lsn())")
    replayed, walfile = (str(row[0]), str(row[1])) if row else ("", "0")
    r.evidence.update({
        "point": r.plan.point.id, "target_time": r.plan.target_time.isoformat() if r.plan.target_time else None,
        "restored_lsn": replayed, "timeline": int(walfile[:8], 16), "restore_seconds": _restore_seconds(r),
        "kept_aside": r.aside, "original_data": r.original()})
    if r.plan.partial is not None:
        archived = r.site.store.head(f"{WAL}{r.plan.partial.segment}") is not None
        r.evidence["streamed_partial"] = replay_evidence(r.plan.partial, r.plan.last_segment, replayed, archived)
    r.host.sh(f"rm -f {q(r.restoring)}", timeout=30)  # the restored data is the host's own from now on
    return json.dumps(r.evidence, sort_keys=True)


def restore_steps(r: Restore) -> list[Step]:
    point = r.plan.point
    until = r.plan.target_time.isoformat() if r.plan.target_time else "the end of the archived WAL"
    return [
        Step("stop", f"stop {r.target} (never a running primary)", "fence", check=lambda: stopped(r),
             act=lambda: r.host.stop("fast"), guard=lambda: restore_guard(r), timeout=120, attempts=2),
        Step("move-aside", f"move {r.data_dir} aside to {r.aside} (kept)", "fence",
             check=lambda: moved_aside(r), act=lambda: _move_aside(r), guard=lambda: restore_guard(r), attempts=1),
        Step("fetch", f"fetch, verify and extract {point.id} ({point.size} bytes) on {r.target}", "promote",
             check=lambda: fetched(r), act=lambda: _fetch(r), timeout=FETCH_SECONDS, attempts=2),
        Step("configure", f"recovery settings: replay archived WAL to {until}, then promote; no archiving",
             "promote", check=lambda: configured(r), act=lambda: _configure(r)),
        Step("start", f"start PostgreSQL on {r.target} in archive recovery", "promote",
             check=lambda: running(r), act=lambda: _start(r), timeout=120, attempts=1),
        Step("promoted", f"wait until {r.target} reaches the target and promotes", "promote",
             check=lambda: promoted(r.site, r.target) if moved_aside(r).done else Truth(False, "not restored yet"),
             act=lambda: _wait_promoted(r), timeout=PROMOTE_WAIT_SECONDS, attempts=1),
        Step("settle", "remove the recovery target settings", "validate", check=lambda: settled(r),
             act=lambda: _settle(r)),
        Step("validate", "CRM invariants; record restored LSN, timeline and restore time", "validate",
             check=lambda: Truth(False, "validation runs once the restore is done"), act=lambda: _validate(r),
             verify=lambda: Truth(True, ""), attempts=2),
    ]


def decide(site: Site, options: Options) -> RestorePlan:
    """Read the catalog and the archived WAL, then let the pure decision choose (recovery/backups/pitr.py)."""
    from recovery.backups.verify import read_catalog

    target_time = parse_time(options.to_time) if options.to_time else None
    files = [ArchivedFile(obj.key[len(WAL):], obj.last_modified) for obj in site.store.list(WAL)
             if obj.last_modified is not None]
    chunks = [c for obj in site.store.list(PARTIAL_PREFIX) if (c := parse_chunk(obj.key, obj.size, obj.last_modified))]
    decision = choose(read_catalog(site.store).points, files, point_id=options.point, target=target_time,
                      now=site.clock.now(), partial=restorable([f.name for f in files], chunks))
    if isinstance(decision, Refusal):
        raise (ConfigError if decision.bad_input else Refused)(decision.reason)
    return decision


def known_target(inventory: Inventory, target: str | None) -> str:
    """--target names a database node of the inventory (checked before any host is contacted)."""
    names = [node.name for node in inventory.database.nodes()]
    if target not in names:
        raise ConfigError(f"--target: no database node named '{target}' in the inventory "
                          f"(expected one of: {', '.join(names)})")
    return str(target)


class RestoreRunbook:
    """The runbook's callbacks; `run` holds the state of the restore once resolved."""

    def __init__(self) -> None:
        self.run: Restore | None = None
        self.runbook = Runbook[Site](name="restore", resolve=self.resolve, steps=self.steps,
                                     preflight=self.preflight, primary_after=lambda site, options: str(options.target))

    def resolve(self, site: Site, options: Options) -> Options:
        target = known_target(site.inventory, options.target)
        plan = decide(site, options)
        self.run = Restore(site, target, options.run_id, plan, options.journal_dir)
        return replace(options, point=plan.point.id,
                       to_time=plan.target_time.isoformat() if plan.target_time else None)

    def resolved(self) -> Restore:
        if self.run is None:
            raise DrError("the restore runbook was not resolved")
        return self.run

    def steps(self, site: Site, options: Options) -> list[Step]:
        return restore_steps(self.resolved())

    def preflight(self, site: Site, options: Options, truths: Sequence[Truth]) -> str:
        r = self.resolved()
        if r.target in site.unreachable:
            raise CheckFailed(f"the restore target {r.target} is unreachable: {site.unreachable[r.target]}")
        try:
            site.lock.current()
        except DrError as err:
            raise CheckFailed(f"the DR region is not reachable: {err}") from None
        if not truths[1].done:  # before the data directory moved: the target must not be a running primary
            reason = restore_guard(r)
            if reason:
                raise Refused(f"{reason}; nothing was changed")
        return f"{r.target}: {truths[0].detail}; {r.plan.describe()}"


def finished_message(site: Site, r: Restore) -> str:
    """What the operator must know: standalone primary, DNS untouched, archiving off, old data kept."""
    until = r.plan.target_time.isoformat() if r.plan.target_time else "the end of the archived WAL"
    try:
        address = site.resolver().resolve()
        dns = f"{site.inventory.dns.record_name} still resolves to {address}"
    except DrError as err:
        dns = f"{site.inventory.dns.record_name} unchanged ({err})"
    return (f"restore done: {r.target} is now a standalone primary on timeline {r.evidence.get('timeline')}, "
            f"restored from {r.plan.point.id} to {until} (replayed to {r.evidence.get('restored_lsn')}). "
            f"{_partial_note(r)}"
            f"DNS was NOT moved: {dns}. WAL archiving is off on {r.target} (archive_command ''): re-install "
            f"it with `crmdr backup wal install` once {r.target} is to be the primary. "
            f"{_kept(r)} To make {r.target} a standby of {site.other(r.target)} again: `crmdr failback --to "
            f"{site.other(r.target)} --yes` (its timeline fork is detected and it is rewound or re-cloned; what "
            f"it holds then is replaced).")


def _partial_note(r: Restore) -> str:
    found = r.evidence.get("streamed_partial")
    return f"{replay_note(found)} " if isinstance(found, dict) else ""


def _kept(r: Restore) -> str:
    original = str(r.evidence.get("original_data") or r.aside)
    if original == r.aside:
        return f"The data directory as it was before the restore is kept in {original}."
    return (f"The data directory as it was before the first restore is kept in {original}; "
            f"{r.aside} holds only the remains of an unfinished earlier restore run.")


def run_restore(inventory: Inventory, options: Options) -> tuple[RunResult, dict[str, object]]:
    """Restore onto `options.target`; the result and the evidence (point, LSN, timeline, seconds)."""
    if not options.resume:
        known_target(inventory, options.target)
    site = open_site(inventory, options.policy)
    try:
        restore = RestoreRunbook()
        result = execute(restore.runbook, site, options)
        if result.status == "succeeded" and restore.run is not None:
            result = replace(result, message=finished_message(site, restore.run))
            return result, dict(restore.run.evidence)
        return result, {}
    finally:
        site.close()
