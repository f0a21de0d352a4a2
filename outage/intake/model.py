"""A downtime request: validated fields, its id, its reference number. Pure.

The request id is derived from the client's token (a retried submission carries the same
token, so it maps to the same id and the conditional write stores it once); the reference
number the customer quotes is derived from the id, so a retry gets the same reference too.
"""

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policies.intake import FieldSpec, IntakeSchema, Language

Channel = Literal["web", "api", "paper"]
State = Literal["stored", "entered", "review", "acknowledged", "purged"]
NAMESPACE = uuid.UUID("6f1c3c57-5f0e-4a7e-9a43-1d1b3c0e7a11")
TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{3,32}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "ja", "j", "x"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "off", "nein"})

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"en": "{label} is required.", "de": "{label} ist erforderlich."},
    "too_long": {"en": "{label} must be at most {max} characters.",
                 "de": "{label} darf höchstens {max} Zeichen lang sein."},
    "email": {"en": "{label}: please enter an address such as name@example.com.",
              "de": "{label}: bitte eine Adresse wie name@example.com angeben."},
    "phone": {"en": "{label} may contain only digits, spaces and + ( ) . / -.",
              "de": "{label} darf nur Ziffern, Leerzeichen und + ( ) . / - enthalten."},
    "pattern": {"en": "{label} may contain only letters, digits and hyphens.",
                "de": "{label} darf nur Buchstaben, Ziffern und Bindestriche enthalten."},
    "choice": {"en": "{label} must be one of: {choices}.", "de": "{label} muss einer dieser Werte sein: {choices}."},
    "consent": {"en": "Please agree to the storage of your details, or call us instead.",
                "de": "Bitte stimmen Sie der Speicherung Ihrer Angaben zu, oder rufen Sie uns an."},
    "control": {"en": "{label} contains control characters.", "de": "{label} enthält Steuerzeichen."},
    "unknown": {"en": "'{name}' is not a field of this form.", "de": "'{name}' ist kein Feld dieses Formulars."},
    "token": {"en": "The client token must be 8 to 128 letters, digits or _ . : -.",
              "de": "Das Client-Token muss aus 8 bis 128 Buchstaben, Ziffern oder _ . : - bestehen."},
}


@dataclass(frozen=True)
class FieldError:
    """One problem with one field; `message(language)` is what the customer reads."""

    field: str
    code: str
    label: dict[str, str]
    detail: dict[str, str]

    def message(self, language: str) -> str:
        lang = "de" if language == "de" else "en"
        return MESSAGES[self.code][lang].format(label=self.label[lang], name=self.field, **self.detail)


class RequestFields(BaseModel):
    """The validated content of one request (what the schema defines), as text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    email: str
    account_number: str = ""
    phone: str = ""
    request_type: str
    priority: str
    description: str
    consent: bool


class IntakeRequest(BaseModel):
    """A stored request: its identity, where it came from, and its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    reference: str
    channel: Channel
    language: Language
    submitted_at: datetime
    fields: RequestFields


def request_id_for(token: str) -> str:
    """The same token always gives the same id: a retried submission is the same request."""
    return str(uuid.uuid5(NAMESPACE, token))


def reference_for(request_id: str) -> str:
    """DT-XXXX-XXXX (Crockford base32, no I/L/O/U): short, unambiguous on the phone, from the id."""
    number = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:5], "big")
    chars = "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(35, -1, -5))
    return f"DT-{chars[:4]}-{chars[4:]}"


def token_problem(token: str) -> FieldError | None:
    if TOKEN.match(token):
        return None
    return FieldError("client_token", "token", {"en": "Client token", "de": "Client-Token"}, {})


def _error(spec: FieldSpec, code: str, **detail: str) -> FieldError:
    return FieldError(spec.name, code, {"en": spec.label.en, "de": spec.label.de}, detail)


def _check_text(spec: FieldSpec, value: str) -> FieldError | None:
    if len(value) > spec.max_length:
        return _error(spec, "too_long", max=str(spec.max_length))
    allowed = value.replace("\n", "").replace("\r", "").replace("\t", "") if spec.kind == "textarea" else value
    if CONTROL.search(allowed) or (spec.kind != "textarea" and ("\n" in value or "\r" in value)):
        return _error(spec, "control")
    if spec.kind == "email" and not EMAIL.match(value):
        return _error(spec, "email")
    if spec.kind == "phone" and not PHONE.match(value):
        return _error(spec, "phone")
    if spec.pattern and not re.match(spec.pattern, value):
        return _error(spec, "pattern")
    if spec.kind == "choice" and value not in spec.values():
        return _error(spec, "choice", choices=", ".join(spec.values()))
    return None


def _consent(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in TRUE_WORDS else False if text in FALSE_WORDS else None


def validate_fields(raw: Mapping[str, object], schema: IntakeSchema) -> tuple[RequestFields | None, list[FieldError]]:
    """Every problem at once (a form shows them all); fields only when there is none."""
    errors: list[FieldError] = []
    known = {spec.name for spec in schema.fields}
    errors += [FieldError(name, "unknown", {"en": name, "de": name}, {}) for name in raw if name not in known]
    values: dict[str, object] = {}
    for spec in schema.fields:
        given = raw.get(spec.name)
        if spec.kind == "consent":
            agreed = _consent(given if given is not None else "")
            if not agreed:
                errors.append(_error(spec, "consent"))
            values[spec.name] = bool(agreed)
            continue
        text = "" if given is None else str(given).strip()
        text = text or (spec.default or "")
        if not text:
            if spec.required:
                errors.append(_error(spec, "required"))
            values[spec.name] = ""
            continue
        problem = _check_text(spec, text)
        if problem:
            errors.append(problem)
        values[spec.name] = text.lower() if spec.kind == "email" else text
    if errors:
        return None, errors
    return RequestFields.model_validate(values), []


class RequestRecord(BaseModel):
    """What the store knows about a request without decrypting it: what `intake list` shows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    reference: str
    channel: Channel
    language: Language
    submitted_at: datetime
    request_type: str
    priority: str
    state: State
    case_id: int | None = None
    entered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    review_reason: str | None = None
    purged_at: datetime | None = None
