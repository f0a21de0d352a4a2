"""The intake's HTML (web form, answer pages, printable paper form) rendered from the schema.

Jinja2 with autoescape on for every template: whatever a customer typed is shown as text.
"""

from functools import cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from policies.intake import IntakeSchema, Language

TEMPLATES = Path(__file__).with_name("templates")
PAGE_SIZES = {"a4": ("A4", "182mm"), "letter": ("letter", "188mm")}
PaperSize = Literal["a4", "letter"]

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Customer request", "language": "Language", "heading": "Tell us what you need",
        "intro": "Our customer system is currently unavailable. Your request is stored safely and entered "
                 "as soon as the system is back; you get a reference number now and your case number by e-mail.",
        "fix": "Please correct the following:", "submit": "Send request", "honeypot": "Leave this field empty",
        "required_note": "Fields marked * are required.",
        "privacy": "Your details are encrypted, used only for this request, and deleted after it is entered.",
        "thanks": "Thank you, your request is stored", "your_reference": "Your reference number:",
        "next": "Please keep it. Once our systems are back we enter your request and e-mail you its case number.",
        "another": "Send another request", "problem": "Your request was not accepted", "back": "Back to the form",
        "print_title": "Customer request (downtime form)", "office": "For office use",
        "print_intro": "Please write clearly in capital letters. Staff type this form in later "
                       "(crmdr intake import); the reference number is given then.",
        "office_ref": "Reference", "office_typed": "Typed in by / on", "yes": "Yes, I agree",
        "taken_at": "Taken on (date and time, with time zone)",
        "print_foot": "Bracketed names are the CSV columns for typing this form in.",
    },
    "de": {
        "title": "Kundenanfrage", "language": "Sprache", "heading": "Wie können wir helfen?",
        "intro": "Unser Kundensystem ist derzeit nicht verfügbar. Ihre Anfrage wird sicher gespeichert und "
                 "erfasst, sobald das System wieder läuft; Sie erhalten jetzt eine Referenznummer und Ihre "
                 "Fallnummer per E-Mail.",
        "fix": "Bitte korrigieren Sie Folgendes:", "submit": "Anfrage senden", "honeypot": "Dieses Feld leer lassen",
        "required_note": "Mit * markierte Felder sind Pflichtfelder.",
        "privacy": "Ihre Angaben werden verschlüsselt, nur für diese Anfrage verwendet und nach der Erfassung "
                   "gelöscht.",
        "thanks": "Vielen Dank, Ihre Anfrage ist gespeichert", "your_reference": "Ihre Referenznummer:",
        "next": "Bitte bewahren Sie sie auf. Sobald unsere Systeme wieder laufen, erfassen wir Ihre Anfrage und "
                "senden Ihnen die Fallnummer per E-Mail.",
        "another": "Weitere Anfrage senden", "problem": "Ihre Anfrage wurde nicht angenommen",
        "back": "Zurück zum Formular", "print_title": "Kundenanfrage (Ausfallformular)", "office": "Interne Vermerke",
        "print_intro": "Bitte deutlich in Druckbuchstaben schreiben. Das Formular wird später erfasst "
                       "(crmdr intake import); die Referenznummer wird dann vergeben.",
        "office_ref": "Referenz", "office_typed": "Erfasst von / am", "yes": "Ja, ich bin einverstanden",
        "taken_at": "Aufgenommen am (Datum und Uhrzeit, mit Zeitzone)",
        "print_foot": "Die Namen in Klammern sind die CSV-Spalten für die Erfassung.",
    },
}


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True,
                       default_for_string=True), trim_blocks=True, lstrip_blocks=True)


def _render(name: str, lang: Language, **values: Any) -> str:
    return _environment().get_template(name).render(lang=lang, t=TEXT[lang], title=TEXT[lang]["title"], **values)


def form_page(schema: IntakeSchema, lang: Language, token: str, values: dict[str, str] | None = None,
              errors: dict[str, str] | None = None) -> str:
    return _render("intake_form.html.j2", lang, fields=schema.fields, token=token, values=values or {},
                   errors=errors or {})


def done_page(reference: str, lang: Language) -> str:
    return _render("intake_done.html.j2", lang, reference=reference)


def error_page(message: str, lang: Language) -> str:
    return _render("intake_error.html.j2", lang, message=message)


def print_page(schema: IntakeSchema, lang: Language, size: PaperSize) -> str:
    """The paper downtime form: the same fields as the web form, boxes to write in, print CSS."""
    page, width = PAGE_SIZES[size]
    return _render("intake_print.html.j2", lang, fields=schema.fields, page=page, width=width)
