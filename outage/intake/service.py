"""Composition of the downtime intake: the store, the CRM, the notifier and the web face wired
to the pure rules (model, csvio, replay, purge, notices).

Entry points: `IntakeService` (CLI and web), `app_from_env()` (uvicorn `--factory`, the lab and
the benchmark) and `lambda_handler` (AWS Lambda behind API Gateway, via Mangum).
"""

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outage.intake.csvio import parse_paper_csv
from outage.intake.model import (
    Channel,
    FieldError,
    IntakeRequest,
    RequestRecord,
    reference_for,
    request_id_for,
    token_problem,
    validate_fields,
)
from outage.intake.notices import acknowledgement
from outage.intake.ports import Crm, CustomerNotifier, IntakeStore
from outage.intake.purge import due_for_purge
from outage.intake.replay import account_number, plan_replay
from policies.errors import ConfigError, HostError, Refused
from policies.intake import IntakeSchema, Language, load_intake_schema
from recovery.inventory import Intake, Inventory

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PENDING = frozenset({"stored", "review", "entered"})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReplayOutcome:
    """What one replay did; stored as JSON and printed (references and case numbers, no personal data)."""

    started_at: str
    finished_at: str = ""
    entered: list[dict[str, Any]] = field(default_factory=list)
    already_entered: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    acknowledged: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportOutcome:
    file: str
    stored: list[dict[str, Any]] = field(default_factory=list)
    already_stored: list[dict[str, Any]] = field(default_factory=list)


class IntakeService:
    """The use cases; every effect goes through the ports given."""

    def __init__(self, store: IntakeStore, schema: IntakeSchema | None = None, clock: Clock = utc_now,
                 new_token: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.store = store
        self.schema = schema or load_intake_schema()
        self._clock = clock
        self._new_token = new_token

    def new_token(self) -> str:
        return self._new_token()

    def _request(self, fields_raw: Mapping[str, object], channel: Channel, language: Language, token: str,
                 submitted_at: datetime | None = None) -> IntakeRequest | list[FieldError]:
        fields, errors = validate_fields(fields_raw, self.schema)
        if fields is None:
            return errors
        request_id = request_id_for(token)
        return IntakeRequest(request_id=request_id, reference=reference_for(request_id), channel=channel,
                             language=language, submitted_at=submitted_at or self._clock(), fields=fields)

    def submit(self, raw: dict[str, object], *, channel: Channel, language: Language,
               token: str | None) -> str | list[FieldError]:
        """The reference once the request is durably stored (a retry with the same token: the same one)."""
        if token is not None and (problem := token_problem(token)) is not None:
            return [problem]
        request = self._request(raw, channel, language, token or self._new_token())
        if isinstance(request, list):
            return request
        self.store.put(request)
        return request.reference

    def import_paper(self, path: Path) -> ImportOutcome:
        """All rows validated first (exit 2 on the first bad one, nothing stored), then stored once each."""
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ConfigError(f"{path}: cannot read it ({err.strerror})") from None
        rows = parse_paper_csv(str(path), data, self.schema)
        requests = []
        for row in rows:
            request = self._request(row.fields.model_dump(), "paper", row.language, row.token(), row.submitted_at)
            if isinstance(request, list):  # parse_paper_csv validated the same fields already
                raise ConfigError(f"{path}: line {row.line}: {request[0].message('en')}")
            requests.append((row.line, request))
        outcome = ImportOutcome(str(path))
        for line, request in requests:
            entry = {"line": line, "reference": request.reference, "request_id": request.request_id}
            (outcome.stored if self.store.put(request) else outcome.already_stored).append(entry)
        return outcome

    def records(self) -> list[RequestRecord]:
        return self.store.records()

    def replay(self, crm: Crm, notifier: CustomerNotifier, only: frozenset[str] | None = None) -> ReplayOutcome:
        """Enter every pending request once (or those in `only`, a drill's own); acknowledge each
        entered one; say what happened to each."""
        outcome = ReplayOutcome(started_at=self._clock().isoformat())
        pending = self.store.requests(PENDING)
        requests = [request for _, request in pending if only is None or request.request_id in only]
        numbers = [n for r in requests if (n := account_number(r.fields.account_number)) is not None]
        snapshot = crm.snapshot([r.request_id for r in requests], numbers, [r.fields.email for r in requests])
        plan = plan_replay(requests, snapshot, self.schema)
        by_id = {request.request_id: request for request in requests}
        for review in plan.review:
            self.store.mark_review(review.request_id, review.reason)
            outcome.review.append({"reference": review.reference, "request_id": review.request_id,
                                   "reason": review.reason})
        cases = {done.request_id: done.case_id for done in plan.already}
        for done in plan.already:
            outcome.already_entered.append({"reference": done.reference, "request_id": done.request_id,
                                            "case_id": done.case_id})
        for entry in plan.entries:
            case_id, created = crm.enter(entry)
            cases[entry.request_id] = case_id
            (outcome.entered if created else outcome.already_entered).append(
                {"reference": entry.reference, "request_id": entry.request_id, "case_id": case_id,
                 "matched_by": entry.matched_by})
            self.store.mark_entered(entry.request_id, case_id, self._clock())
        for done in plan.already:  # entered by a replay killed before it could say so
            self.store.mark_entered(done.request_id, done.case_id, self._clock())
        for request_id, case_id in cases.items():
            where = notifier.acknowledge(acknowledgement(by_id[request_id], case_id))
            self.store.mark_acknowledged(request_id, self._clock())
            outcome.acknowledged.append({"reference": by_id[request_id].reference, "case_id": case_id,
                                         "via": where.split(" ", 1)[0]})
        outcome.finished_at = self._clock().isoformat()
        return outcome

    def purge(self, settings: Intake) -> list[str]:
        """Remove personal data of requests entered more than `purge_after` ago; returns their references."""
        now = self._clock()
        records = {record.request_id: record for record in self.store.records()}
        purged = []
        for request_id in due_for_purge(records.values(), settings.purge_after, now):
            if self.store.purge(request_id, now):
                purged.append(records[request_id].reference)
        return purged


def intake_settings(inventory: Inventory) -> Intake:
    """The intake's settings; it must live in the DR region (it works while the primary is gone)."""
    intake = inventory.intake
    if intake is None:
        raise ConfigError("inventory: field 'intake' is missing; expected the intake's url, table and kms_key_id")
    if intake.region not in (None, inventory.regions.dr):
        raise ConfigError(f"inventory: field 'intake.region' is '{intake.region}'; expected the DR region "
                          f"'{inventory.regions.dr}'")
    return intake


def store_for(inventory: Inventory) -> IntakeStore:
    from outage.adapters.dynamo_intake import DynamoIntakeStore

    settings = intake_settings(inventory)
    if not settings.kms_key_id:
        raise ConfigError("inventory: field 'intake.kms_key_id' is missing; expected the DR region's KMS key "
                          "(personal data is never stored unencrypted)")
    return DynamoIntakeStore.connect(inventory.aws, settings.region or inventory.regions.dr, settings.table,
                                     settings.kms_key_id)


@contextmanager
def crm_for(inventory: Inventory, target: str | None = None) -> Iterator[Crm]:
    """The CRM on its writable node: whichever of primary and standby accepts writes now.

    An unreachable node (the primary region cut off after a failover) is passed over, so requests
    are entered where the CRM runs now; two writable nodes are refused (a split brain: the cases
    could land where applications do not look)."""
    from outage.adapters.crm_postgres import PostgresCrm
    from recovery.adapters.postgres import connect
    from recovery.adapters.secrets import resolve_secret

    db = inventory.database
    password = resolve_secret(db.password, inventory) if db.password else None
    candidates = [target] if target else [getattr(n, "host", None) or getattr(n, "endpoint", None) for n in db.nodes()]
    writable: list[tuple[str, Any]] = []
    unreachable: list[str] = []
    standbys: list[str] = []
    with ExitStack() as stack:
        for host in (h for h in candidates if h):
            name, _, port = host.partition(":")
            try:
                conn = stack.enter_context(connect(name, int(port or db.primary.pg_port), user=db.user,
                                                   password=password, dbname=db.name, timeout=5))
            except HostError as err:
                unreachable.append(str(err))
                continue
            in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone() != (False,)
            if in_recovery:
                standbys.append(host)
            else:
                writable.append((host, conn))
        if len(writable) > 1:
            raise Refused(f"more than one database node accepts writes ({', '.join(h for h, _ in writable)}); "
                          "refusing to replay into either: give the CRM's node with --crm")
        if writable:
            yield PostgresCrm(writable[0][1])
            return
        known = [*unreachable, *(f"{host} is a standby" for host in standbys)]
        if unreachable:
            raise HostError(f"no database node accepts writes: {'; '.join(known)}")
        raise ConfigError(f"inventory: no database node accepts writes ({'; '.join(known)}); "
                          "expected a primary to replay into")


def save_outcome(outcome: ReplayOutcome, directory: Path) -> Path:
    """The replay's record, one JSON file per run (no personal data in it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"replay-{outcome.started_at.replace(':', '').replace('+0000', 'Z')}.json"
    path.write_text(json.dumps(asdict(outcome), indent=2, sort_keys=True) + "\n")
    return path


def app_for(service: IntakeService, rate_per_minute: int) -> "FastAPI":
    from outage.adapters.intake_web import create_app

    return create_app(service, service.schema, rate_per_minute=rate_per_minute, new_token=service.new_token)


def app_from_env() -> "FastAPI":
    """uvicorn --factory / Lambda. Either $CRMDR_INVENTORY names the inventory (the lab), or
    $CRMDR_INTAKE_TABLE and $CRMDR_INTAKE_KMS_KEY name the table and key in $AWS_REGION (Lambda);
    $CRMDR_INTAKE_RATE overrides the per-client rate (submissions per minute)."""
    from outage.adapters.dynamo_intake import DynamoIntakeStore
    from recovery.inventory import Aws, load_inventory

    rate = os.environ.get("CRMDR_INTAKE_RATE")
    table = os.environ.get("CRMDR_INTAKE_TABLE")
    if table:
        store: IntakeStore = DynamoIntakeStore.connect(Aws(), os.environ["AWS_REGION"], table,
                                                       os.environ["CRMDR_INTAKE_KMS_KEY"])
        return app_for(IntakeService(store), int(rate or 30))
    inventory = load_inventory(Path(os.environ["CRMDR_INVENTORY"]))
    return app_for(IntakeService(store_for(inventory)), int(rate or intake_settings(inventory).rate_per_minute))


_handler: Any = None


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """AWS Lambda entry point (API Gateway HTTP API); the app is built once per container."""
    global _handler  # noqa: PLW0603  # one ASGI app per Lambda container, built on first use
    if _handler is None:
        from mangum import Mangum

        _handler = Mangum(app_from_env(), lifespan="off")
    return _handler(event, context)
