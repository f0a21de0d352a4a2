"""A client of the intake's JSON API, as a customer's retrying client would be: the same client
token on every retry, so a submission answered late or lost in transit is still one request."""

import logging
import time

import httpx

from policies.errors import CloudError

log = logging.getLogger(__name__)


def submit(url: str, body: dict[str, object], token: str, *, deadline_s: float = 30.0) -> str:
    """POST /api/requests until a 201 (its reference); 4xx other than 429 stops at once."""
    give_up = time.monotonic() + deadline_s
    last = "no answer"
    with httpx.Client(timeout=5.0) as http:
        while time.monotonic() < give_up:
            try:
                answer = http.post(f"{url.rstrip('/')}/api/requests", json={**body, "client_token": token})
            except httpx.HTTPError as err:
                last = type(err).__name__
            else:
                if answer.status_code == 201:
                    return str(answer.json()["reference"])
                last = f"HTTP {answer.status_code}"
                if 400 <= answer.status_code < 500 and answer.status_code != 429:
                    break
            time.sleep(0.2)
    raise CloudError(f"the intake at {url} did not accept a request ({last})")
