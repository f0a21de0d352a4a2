"""The acknowledgement each customer gets once the request is a case: drafted in their language. Pure."""

from dataclasses import dataclass

from outage.intake.model import IntakeRequest

TEMPLATES = {
    "en": {
        "subject": "Your request {reference} is now case {case}",
        "body": "Hello {name},\n\nthank you for your patience while our systems were unavailable. Your request "
                "{reference} has been entered as case {case}. Please quote this case number if you contact us "
                "about it.\n\nKind regards,\nCustomer Service\n",
    },
    "de": {
        "subject": "Ihre Anfrage {reference} ist jetzt Fall {case}",
        "body": "Guten Tag {name},\n\nvielen Dank für Ihre Geduld, während unsere Systeme nicht verfügbar waren. "
                "Ihre Anfrage {reference} wurde als Fall {case} erfasst. Bitte nennen Sie diese Fallnummer, "
                "wenn Sie uns dazu kontaktieren.\n\nMit freundlichen Grüßen\nIhr Kundenservice\n",
    },
}


@dataclass(frozen=True)
class Acknowledgement:
    """A message to one customer; `request_id` makes sending it idempotent for a notifier that can."""

    request_id: str
    reference: str
    case_id: int
    language: str
    to: str
    subject: str
    body: str


def acknowledgement(request: IntakeRequest, case_id: int) -> Acknowledgement:
    template = TEMPLATES["de" if request.language == "de" else "en"]
    values = {"reference": request.reference, "case": case_id, "name": request.fields.name}
    return Acknowledgement(request.request_id, request.reference, case_id, request.language, request.fields.email,
                           template["subject"].format(**values), template["body"].format(**values))
