"""The intake's web face (FastAPI): the HTML form at `/`, `POST /api/requests`, the paper form.

Works without JavaScript; answers 201 only after the request is durably stored; bad input is
a 4xx with a clear message in the customer's language (form errors next to their fields).
There is no endpoint that returns a stored request: no customer can read another's.
"""

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from outage.adapters.intake_pages import PAGE_SIZES, error_page, form_page, print_page
from outage.adapters.intake_pages import done_page as done_html
from outage.intake.model import Channel, FieldError
from outage.intake.web_rules import RateLimiter, pick_language
from policies.errors import DrError
from policies.intake import IntakeSchema, Language

log = logging.getLogger(__name__)

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
}
MESSAGES = {
    "too_large": {"en": "The request is too large (at most {limit} bytes).",
                  "de": "Die Anfrage ist zu groß (höchstens {limit} Bytes)."},
    "rate": {"en": "Too many requests from your address; please try again in {seconds} seconds.",
             "de": "Zu viele Anfragen von Ihrer Adresse; bitte versuchen Sie es in {seconds} Sekunden erneut."},
    "honeypot": {"en": "The field 'Leave this field empty' must stay empty.",
                 "de": "Das Feld 'Dieses Feld leer lassen' muss leer bleiben."},
    "json": {"en": "The body must be a JSON object with the request's fields.",
             "de": "Der Inhalt muss ein JSON-Objekt mit den Feldern der Anfrage sein."},
    "media": {"en": "Send the request as {expected}.", "de": "Senden Sie die Anfrage als {expected}."},
    "invalid": {"en": "The request has {count} problem(s): {first}", "de": "Die Anfrage hat {count} Fehler: {first}"},
    "unavailable": {"en": "Your request could not be stored just now; it was not received. Please try again.",
                    "de": "Ihre Anfrage konnte gerade nicht gespeichert werden und ist nicht eingegangen. "
                          "Bitte versuchen Sie es erneut."},
    "size": {"en": "Unknown paper size; expected a4 or letter.",
             "de": "Unbekanntes Papierformat; erwartet a4 oder letter."},
}


class Submitter(Protocol):
    def submit(self, raw: dict[str, object], *, channel: Channel, language: Language,
               token: str | None) -> str | list[FieldError]: ...


def _say(key: str, lang: str, **values: object) -> str:
    return MESSAGES[key]["de" if lang == "de" else "en"].format(**values)


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _Web:
    """The handlers, sharing the service, the schema and the per-client rate limiter."""

    def __init__(self, service: Submitter, schema: IntakeSchema, rate_per_minute: int,
                 new_token: Callable[[], str], clock: Callable[[], float]) -> None:
        self.service, self.schema, self.new_token, self.clock = service, schema, new_token, clock
        self.limiter = RateLimiter(per_minute=rate_per_minute)
        self.limit = schema.limits.body_bytes

    def limited(self, request: Request) -> float | None:
        return self.limiter.retry_after(request.client.host if request.client else "unknown", self.clock())

    async def form(self, request: Request, lang: str | None = None) -> Response:
        language = pick_language(lang, request.headers.get("accept-language"))
        return _html(form_page(self.schema, language, self.new_token()))

    async def post_form(self, request: Request, lang: str | None = None) -> Response:
        language = pick_language(lang, request.headers.get("accept-language"))
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _html(error_page(_say("media", language, expected="a form (urlencoded)"), language), 415)
        try:
            body = await _body(request, self.limit)
        except _TooLarge:
            return _html(error_page(_say("too_large", language, limit=self.limit), language), 413)
        values = {key: items[-1] for key, items in parse_qs(body.decode("utf-8", "replace"),
                                                          keep_blank_values=True).items()}
        language = pick_language(values.pop("lang", None) or lang, request.headers.get("accept-language"))
        token = values.pop("client_token", None)
        if values.pop("website", ""):
            return _html(error_page(_say("honeypot", language), language), 400)
        if (wait := self.limited(request)) is not None:
            seconds = str(int(wait) + 1)
            return _html(error_page(_say("rate", language, seconds=seconds), language), 429, {"Retry-After": seconds})
        try:
            answer = await run_in_threadpool(self.service.submit, dict(values), channel="web", language=language,
                                             token=token)
        except DrError:
            log.warning("a form submission could not be stored", exc_info=True)
            return _html(error_page(_say("unavailable", language), language), 503)
        if isinstance(answer, list):
            errors = {error.field: error.message(language) for error in answer}
            return _html(form_page(self.schema, language, token or self.new_token(), values, errors), 400)
        return _html(done_html(answer, language), 201)

    async def post_api(self, request: Request) -> Response:
        language = pick_language(None, request.headers.get("accept-language"))
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _problem(415, _say("media", language, expected="application/json"))
        try:
            data: Any = json.loads(await _body(request, self.limit))
        except _TooLarge:
            return _problem(413, _say("too_large", language, limit=self.limit))
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return _problem(400, _say("json", language))
        language = pick_language(str(data.pop("language", "")) or None, request.headers.get("accept-language"))
        token = data.pop("client_token", None) or request.headers.get("idempotency-key")
        if data.pop("website", ""):
            return _problem(400, _say("honeypot", language))
        if (wait := self.limited(request)) is not None:
            seconds = str(int(wait) + 1)
            return _problem(429, _say("rate", language, seconds=seconds), {"Retry-After": seconds})
        try:
            answer = await run_in_threadpool(self.service.submit, data, channel="api", language=language,
                                             token=None if token is None else str(token))
        except DrError:
            log.warning("an API submission could not be stored", exc_info=True)
            return _problem(503, _say("unavailable", language))
        if isinstance(answer, list):
            errors = [{"field": e.field, "message": e.message(language)} for e in answer]
            return _problem(422, _say("invalid", language, count=len(errors), first=errors[0]["message"]),
                            errors=errors)
        return JSONResponse({"reference": answer}, status_code=201, headers=HEADERS)

    async def printable(self, request: Request, size: str = "a4", lang: str | None = None) -> Response:
        language = pick_language(lang, request.headers.get("accept-language"))
        if size not in PAGE_SIZES:
            return _html(error_page(_say("size", language), language), 400)
        return _html(print_page(self.schema, language, "letter" if size == "letter" else "a4"))

    async def health(self) -> Response:
        return JSONResponse({"ok": True}, headers=HEADERS)


def create_app(service: Submitter, schema: IntakeSchema, *, rate_per_minute: int,
               new_token: Callable[[], str], clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The ASGI app; `new_token` gives each rendered form its idempotency token."""
    app = FastAPI(title="crm-dr downtime intake", docs_url=None, redoc_url=None, openapi_url=None)
    web = _Web(service, schema, rate_per_minute, new_token, clock)
    app.add_api_route("/", web.form, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/", web.post_form, methods=["POST"], response_class=HTMLResponse)
    app.add_api_route("/api/requests", web.post_api, methods=["POST"])
    app.add_api_route("/form/print", web.printable, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/healthz", web.health, methods=["GET"])
    return app


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**HEADERS, **(headers or {})})


def _problem(status: int, message: str, headers: dict[str, str] | None = None,
             errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, object] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers={**HEADERS, **(headers or {})})
