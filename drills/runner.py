"""`crmdr drill run`: guard, execute one drill type, judge, report, sign, chain, store, export.

Effectful orchestration; the decisions it needs (refusal, judging, assembling the report,
due dates, metrics) are pure functions elsewhere in drills/.
"""

import getpass
import logging
import os
import secrets as token
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.context import DrillContext, Executor
from drills.report.build import Provenance, build_report, report_id
from drills.report.model import DrillReport, Person, Signing, Toolkit
from drills.report.render import render_all
from drills.report.rotation import key_change_refusal
from drills.report.service import anchor_reports
from drills.report.signing import fingerprint, key_path, lab_key_path, load_or_create_key, public_key_text
from drills.report.store import (
    chain_head,
    make_dir,
    past_reports,
    publish,
    redact,
    refuse_shared_dir,
    write_private,
)
from drills.schedule import due_drills, prometheus_text
from policies.errors import ConfigError, DrError, Interrupted, Refused
from policies.sla import DrillType, Policy, Tier, load_policy
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import Inventory, inventory_tier, load_inventory

log = logging.getLogger(__name__)

REPORT_PREFIX = "drill-reports/"
DISRUPTIVE: frozenset[str] = frozenset({"failover"})
DETECT_MODES = ("declared", "watch")


@dataclass(frozen=True)
class DrillRequest:
    drill_type: DrillType
    inventory_path: Path
    out_dir: Path
    tier: str | None = None
    policy_path: Path | None = None
    scenario: str | None = None
    detect: str = "declared"
    signing_key: Path | None = None
    i_understand_production: bool = False
    operator: str | None = None
    approvals: tuple[str, ...] = ()
    textfile: Path | None = None
    store_in_bucket: bool = True




def drill_refusal(inventory: Inventory, tier: Tier, drill_type: str, confirmed: bool) -> str | None:
    """Why a disruptive drill may not run on this inventory (None: it may). Pure."""
    if drill_type not in DISRUPTIVE or inventory.environment != "production":
        return None
    if not tier.production_drills_allowed:
        return (f"refusing a {drill_type} drill on production stack '{inventory.stack}': the policy does "
                "not allow production drills for this tier (production_drills_allowed: false)")
    if not confirmed:
        return (f"refusing a {drill_type} drill on production stack '{inventory.stack}' without "
                "--i-understand-production")
    return None


def executor_for(drill_type: DrillType) -> Executor:
    """The executor of a drill type; imported lazily (each pulls in its own adapters)."""
    if drill_type == "failover":
        from drills.failover.drill import run as failover

        return failover
    from drills.backup_drill import backup_verify, restore_test

    return backup_verify if drill_type == "backup-verify" else restore_test


def toolkit() -> Toolkit:
    try:
        version = metadata.version("crm-dr")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return Toolkit(version=version, git_commit=commit)


def _secrets(inventory: Inventory) -> list[str]:
    db = inventory.database
    found = []
    for ref in (db.password, db.replication_password):
        if ref is not None:
            try:
                found.append(resolve_secret(ref, inventory))
            except DrError:
                continue
    return [s for s in found if s]


def _load(request: DrillRequest) -> tuple[Inventory, Policy, str, Tier]:
    inventory = load_inventory(request.inventory_path)
    policy = load_policy(request.policy_path)
    tier_name = request.tier or inventory.sla_tier
    tier = policy.tier(tier_name) if request.tier else inventory_tier(inventory, policy)
    if request.detect not in DETECT_MODES or (request.detect != "declared" and request.drill_type != "failover"):
        raise ConfigError(f"--detect: expected {' or '.join(DETECT_MODES)} (watch for failover drills only), "
                          f"got '{request.detect}' for a {request.drill_type} drill")
    if request.scenario is not None and request.drill_type != "failover":
        raise ConfigError(f"--scenario applies to failover drills only, not {request.drill_type}")
    if request.scenario is not None:
        from drills.failover.scenarios import SCENARIOS

        if request.scenario not in SCENARIOS:
            raise ConfigError(f"unknown scenario '{request.scenario}' (expected one of {', '.join(SCENARIOS)})")
    return inventory, policy, tier_name, tier


def _signer(request: DrillRequest, inventory: Inventory) -> Ed25519PrivateKey:
    lab_default = lab_key_path(inventory.stack) if inventory.environment == "lab" else None
    path = key_path(request.signing_key, lab_default)
    key = load_or_create_key(path, create=path == lab_default)
    refusal = key_change_refusal(request.out_dir, public_key_text(key))
    if refusal:
        raise Refused(refusal)
    return key


def run_drill(request: DrillRequest) -> tuple[DrillReport, Path]:
    """Run, judge and publish one drill; nothing runs when input is bad (2) or refused (3)."""
    inventory, _policy, tier_name, tier = _load(request)
    refusal = drill_refusal(inventory, tier, request.drill_type, request.i_understand_production)
    if refusal:
        raise Refused(refusal)
    refuse_shared_dir(request.out_dir)
    key = _signer(request, inventory)
    execute = executor_for(request.drill_type)
    out = make_dir(request.out_dir)
    started = datetime.now(UTC)
    nonce = token.token_hex(3)
    report_dir = out / report_id(started, request.drill_type, nonce)
    context = DrillContext(inventory, request.inventory_path, tier, tier_name,
                           request.scenario or ("crash" if request.drill_type == "failover" else None),
                           report_dir, _secrets(inventory), detect=request.detect)
    outcome = execute(context)
    finished = datetime.now(UTC)
    public = public_key_text(key)
    operator = request.operator or os.environ.get("CRMDR_OPERATOR") or getpass.getuser()
    provenance = Provenance(
        report_id=report_dir.name, toolkit=toolkit(), operator=Person(name=operator, role="drill operator"),
        policy=str(request.policy_path or "policies/tiers.yaml (shipped)"), tier_name=tier_name,
        chain=chain_head(out), signing=Signing(public_key=public, key_fingerprint=fingerprint(public)),
        approvals=tuple(Person(name=name, role="approver") for name in request.approvals),
    )
    report = redact(build_report(outcome, inventory, tier, provenance, started, finished), context.secrets)
    history = past_reports(out)
    published = publish(out, report, render_all(report, history), key, context.secrets)
    if request.store_in_bucket:
        _store_in_bucket(inventory, tier, published, finished)
    if request.textfile:
        export_metrics(request.textfile, tier, [*history, report], finished)
    if outcome.signal is not None:
        raise Interrupted(outcome.signal, f"{request.drill_type} drill {outcome.aborted}; ABORTED report (signed, "
                                          f"in the chain): {published / 'report.html'}")
    return report, published


def _store_in_bucket(inventory: Inventory, tier: Tier, report_dir: Path, now: datetime) -> None:
    """Copy every file of the report to the DR bucket, locked for the tier's retention; anchor the chain."""
    from recovery.adapters.s3_store import S3ObjectStore

    store = S3ObjectStore(inventory, lock_mode=tier.object_lock_mode)
    retain_until = now + max(tier.retention, timedelta(days=1))
    for path in sorted(report_dir.iterdir()):
        store.put_bytes(f"{REPORT_PREFIX}{report_dir.name}/{path.name}", path.read_bytes(),
                        retain_until=retain_until)
    anchor_reports(report_dir.parent, inventory, lock_mode=tier.object_lock_mode, retain_until=retain_until, now=now)


def export_metrics(path: Path, tier: Tier, reports: list[DrillReport], now: datetime) -> None:
    """node_exporter textfile, replaced atomically (a scrape never sees half a file)."""
    text = prometheus_text(reports, due_drills(tier, reports, now))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    write_private(temporary, text.encode(), mode=0o644)
    temporary.replace(path)
