"""Replay planning: which stored request becomes which case, which is already in the CRM, and
which needs a person. Pure: it takes the requests and a snapshot of the CRM and returns a plan.

Nothing is ever dropped: a request that matches no account goes to the review list with a
reason (no personal data in it), and is planned again on the next replay.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from outage.intake.model import IntakeRequest
from policies.intake import IntakeSchema

SUBJECT_CHARS = 120


@dataclass(frozen=True)
class Contact:
    id: int
    account_id: int


@dataclass(frozen=True)
class CrmSnapshot:
    """What the CRM holds for the requests being replayed (read in one go before planning)."""

    accounts: frozenset[int]
    contacts_by_email: Mapping[str, Contact]
    first_contact: Mapping[int, int]  # account id -> its first contact's id
    entered: Mapping[str, int]  # request id -> case id, for requests the CRM already holds


@dataclass(frozen=True)
class Entry:
    """A case and an activity to create; `request_id` goes into the CRM under a unique constraint."""

    request_id: str
    reference: str
    account_id: int
    contact_id: int
    priority: int
    subject: str
    notes: str
    matched_by: str


@dataclass(frozen=True)
class Review:
    request_id: str
    reference: str
    reason: str


@dataclass(frozen=True)
class AlreadyEntered:
    request_id: str
    reference: str
    case_id: int


@dataclass(frozen=True)
class ReplayPlan:
    entries: list[Entry] = field(default_factory=list)
    already: list[AlreadyEntered] = field(default_factory=list)
    review: list[Review] = field(default_factory=list)


def account_number(text: str) -> int | None:
    """The CRM's account ids are numbers; other spellings ('ACC-0042') name no account."""
    digits = text.strip().upper().removeprefix("ACC-").lstrip("0")
    return int(digits) if digits.isdigit() and len(digits) < 19 else None


def match(request: IntakeRequest, crm: CrmSnapshot) -> tuple[int, int, str] | str:
    """(account id, contact id, matched by) or the reason a person must look at it."""
    fields = request.fields
    contact = crm.contacts_by_email.get(fields.email)
    number = account_number(fields.account_number) if fields.account_number else None
    if number is not None and number in crm.accounts:
        if contact is not None and contact.account_id == number:
            return number, contact.id, "account number and e-mail"
        first = crm.first_contact.get(number)
        if first is None:
            return f"account {number} has no contact to attach a case to"
        return number, first, "account number"
    if contact is not None:
        return contact.account_id, contact.id, "e-mail"
    if fields.account_number:
        return "no account with the given number and no contact with the given e-mail"
    return "no account number given and no contact with the given e-mail"


def entry_for(request: IntakeRequest, account_id: int, contact_id: int, matched_by: str,
              schema: IntakeSchema) -> Entry:
    fields = request.fields
    kind = schema.field("request_type").choice(fields.request_type).label.en
    first_line = fields.description.splitlines()[0] if fields.description else ""
    subject = f"[{request.reference}] {kind}: {first_line}"[:SUBJECT_CHARS]
    notes = (f"Downtime request {request.reference} ({request.channel}, submitted "
             f"{request.submitted_at.isoformat()}, language {request.language}).\n"
             f"From: {fields.name} <{fields.email}>"
             + (f", phone {fields.phone}" if fields.phone else "")
             + (f", account number given: {fields.account_number}" if fields.account_number else "")
             + f"\nMatched by {matched_by}.\n\n{fields.description}")
    priority = schema.field("priority").choice(fields.priority).crm or 3
    return Entry(request.request_id, request.reference, account_id, contact_id, priority, subject, notes,
                 matched_by)


def plan_replay(requests: Sequence[IntakeRequest], crm: CrmSnapshot, schema: IntakeSchema) -> ReplayPlan:
    """Every request lands in exactly one of the three lists."""
    plan = ReplayPlan()
    for request in sorted(requests, key=lambda r: (r.submitted_at, r.request_id)):
        case_id = crm.entered.get(request.request_id)
        if case_id is not None:
            plan.already.append(AlreadyEntered(request.request_id, request.reference, case_id))
            continue
        found = match(request, crm)
        if isinstance(found, str):
            plan.review.append(Review(request.request_id, request.reference, found))
        else:
            plan.entries.append(entry_for(request, *found, schema))
    return plan
