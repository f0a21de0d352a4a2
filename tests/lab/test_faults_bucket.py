"""The bucket cut at the moments the earlier cuts missed (issue 18, item 3): during `backup run`'s
manifest write, and under a `backup verify` whose S3 connection was kept alive and reused.

The process under test pauses at an exact point (CRMDR_TEST_PAUSE_AT, recovery/adapters/
fault_hooks.py); the test checks the bucket is at the moment it means, cuts the AWS stand-in off
with `crmdr lab cut aws` (iptables in its namespace, both ways), releases the process and times it.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.lab import network
from drills.lab.settings import LabPaths
from drills.lab.system import terminate, wait_port
from recovery.adapters.aws_session import RETRIES, client
from recovery.inventory import Inventory
from tests.conftest import ROOT, crmdr
from tests.lab.conftest import Lab, module_lab, needs_netns
from tests.lab.pause import release, start_paused, wait_file
from tests.lab.test_faults_netns import lab_cut
from tests.lab.test_netfault_recovery import _points

pytestmark = [pytest.mark.lab, pytest.mark.slow, needs_netns]

FRONT_PORT_OFFSET = 1000
"""The keep-alive front listens on the stand-in's address, this far above moto's port."""


bucket_lab = module_lab(8, "Both tests add recovery points and verdicts only, never change roles.", rows=50)


def _cut_and_release(lab: Lab, process: subprocess.Popen[str], gate: Path) -> tuple[str, str, float]:
    """Cut the AWS stand-in, release the pause; the output and the seconds from cut to exit."""
    try:
        return release(process, gate, lambda: lab_cut(lab, "cut", "aws"), "the cut")
    finally:
        if process.poll() is None:
            process.kill()
        lab_cut(lab, "heal")


def _keys(lab: Lab, prefix: str) -> list[str]:
    inv = lab.inventory
    listed = client(inv.aws, "s3", inv.backup.region).list_objects_v2(
        Bucket=inv.backup.bucket, Prefix=f"{inv.backup.prefix}{prefix}")
    return sorted(o["Key"][len(inv.backup.prefix):] for o in listed.get("Contents", []))


def _pending_uploads(lab: Lab) -> list[Any]:
    inv = lab.inventory
    uploads: list[Any] = client(inv.aws, "s3", inv.backup.region).list_multipart_uploads(
        Bucket=inv.backup.bucket).get("Uploads", [])
    return uploads


def test_bucket_cut_at_the_manifest_write_lists_no_half_point_and_a_rerun_succeeds(
        bucket_lab: Lab, tmp_path: Path, record_property: Any) -> None:
    """GIVEN a backup whose data object is complete in the bucket (CompleteMultipartUpload answered)
    and whose manifest is not written yet, WHEN the bucket is cut off, THEN the run exits 1 naming the
    manifest step, `backup list` shows no point for it (only an orphan), and a re-run after heal succeeds."""
    lab, gate = bucket_lab, tmp_path / "go"
    before = [p["id"] for p in _points(lab)]
    known = set(_keys(lab, "points/"))
    process = start_paused(lab.inventory_path, gate, "backup-manifest", "backup", "run", "--kind", "physical", "--json")
    wait_file(Path(f"{gate}.reached"), process, 120)
    new = sorted(set(_keys(lab, "points/")) - known)
    assert len(new) == 1 and new[0].endswith("/base.tar.zst"), f"not the moment after the data upload: {new}"
    assert _pending_uploads(lab) == [], "the data upload is not complete at the pause"
    pid = new[0].split("/")[1]
    _, err, seconds = _cut_and_release(lab, process, gate)
    record_property("seconds_cut_to_exit", round(seconds, 1))
    print(f"bucket cut at the manifest write: exit {process.returncode} {seconds:.1f}s after the cut: {err.strip()}")

    assert process.returncode == 1, err
    assert "write the manifest" in err and pid in err and "Traceback" not in err, err
    assert f"points/{pid}/manifest.json" not in _keys(lab, f"points/{pid}/")
    assert [p["id"] for p in _points(lab)] == before, "a point without its manifest is listed"
    listed = json.loads(crmdr("backup", "list", "--json", "--inventory", str(lab.inventory_path)).stdout)
    assert f"points/{pid}/base.tar.zst" in [o["key"] for o in listed["orphans"]], listed["orphans"]

    again = crmdr("backup", "run", "--kind", "physical", "--json", "--inventory", str(lab.inventory_path))
    assert again.returncode == 0, again.stderr
    assert [p["id"] for p in _points(lab)] == [*before, json.loads(again.stdout)["id"]]


@pytest.fixture
def kept_alive(bucket_lab: Lab, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The keep-alive front on the stand-in's host, and an inventory that reaches the bucket through it."""
    lab, settings = bucket_lab, bucket_lab.settings
    port, log = settings.aws_port + FRONT_PORT_OFFSET, tmp_path / "front.log"
    with log.open("w") as out:
        front = subprocess.Popen(network.in_namespace(LabPaths(lab.dir), "aws", [
            sys.executable, "-m", "drills.lab.keepalive", str(settings.aws_ip), str(port), str(settings.aws_ip),
            str(settings.aws_port)]), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_port(str(settings.aws_ip), port, open_=True, timeout=30, what="keep-alive front")
        data = lab.inventory.model_dump()
        data["aws"]["endpoint_url"] = f"http://{settings.aws_ip}:{port}"
        inventory = tmp_path / "inventory.json"
        inventory.write_text(Inventory.model_validate(data).to_json())
        yield inventory, log
    finally:
        terminate(front.pid)


def _retried_read_limit() -> float:
    """The longest a request may take once the bucket is cut: one read timeout on the dead kept-alive
    connection, then botocore standard mode's retries (`max_attempts` of them after the first try; botocore
    rewrites the dict in place as `total_max_attempts`), each a connect timeout after a backoff of at most
    50 ms x 2^i (errors other than throttling)."""
    settings = RETRIES.retries
    retries = int(settings.get("total_max_attempts", int(settings.get("max_attempts", 0)) + 1)) - 1
    backoff = sum(0.05 * 2 ** i for i in range(retries))
    return float(RETRIES.read_timeout) + retries * float(RETRIES.connect_timeout) + backoff


def _established(pid: int, address: str, port: int) -> int:
    """TCP connections process `pid` holds open to address:port (`ss`, from the root namespace)."""
    listed = subprocess.run(["ss", "-tnpH", "state", "established", "dst", f"{address}:{port}"],
                            capture_output=True, text=True, check=True).stdout
    return sum(1 for line in listed.splitlines() if f"pid={pid}," in line)


@pytest.mark.parametrize("point", ["verify-open", "verify-stream"], ids=["idle-in-the-pool", "mid-read"])
def test_verify_cut_on_a_kept_alive_connection_fails_within_the_read_timeout_and_records_nothing(
        bucket_lab: Lab, kept_alive: tuple[Path, Path], tmp_path: Path, record_property: Any, point: str) -> None:
    """GIVEN a verify whose S3 connection already served earlier requests (kept alive, as S3 does) and
    sits idle in boto3's pool before the data GET (idle-in-the-pool), or carries that GET (mid-read),
    WHEN the bucket is cut off, THEN verify fails (exit 1), is never reported as verified, and records no
    verdict; mid-read within the read timeout (a body read is not retried); idle, the GET waits out the read
    timeout on the dead connection and botocore then retries it on new connects, so within that and the
    retries' connect timeouts and backoff (`_retried_read_limit`: 30 + 5 x 5 s + at most 1.55 s), not the read timeout alone."""
    lab, (inventory, log) = bucket_lab, kept_alive
    # uncompressed, so the data GET is long enough to be cut in the middle
    taken = crmdr("backup", "run", "--kind", "physical", "--compress", "none", "--json",
                  "--inventory", str(lab.inventory_path))
    assert taken.returncode == 0, taken.stderr
    pid, gate = json.loads(taken.stdout)["id"], tmp_path / "go"
    process = start_paused(inventory, gate, point, "backup", "verify", "--id", pid, "--json")
    wait_file(Path(f"{gate}.reached"), process, 120)
    requests = [line.split() for line in log.read_text().splitlines() if line.startswith("conn=")]
    assert max(int(r[1].removeprefix("req=")) for r in requests) >= 2, f"no connection was reused: {requests}"
    front = lab.settings.aws_port + FRONT_PORT_OFFSET
    assert _established(process.pid, str(lab.settings.aws_ip), front) >= 1, "no connection kept open at the cut"
    data_gets = [r for r in requests if r[2] == "GET" and r[3].endswith(f"points/{pid}/base.tar")]
    if point == "verify-stream":
        assert data_gets and int(data_gets[-1][1].removeprefix("req=")) >= 2, f"the data GET had a new connection: {data_gets}"
    else:
        assert not data_gets, "the data GET was sent before the cut"
    out, err, seconds = _cut_and_release(lab, process, gate)
    record_property("seconds_cut_to_exit", round(seconds, 1))
    print(f"GET cut on a kept-alive connection ({point}): exit {process.returncode} {seconds:.1f}s after the cut "
          f"(read timeout {RETRIES.read_timeout:g}s): {err.strip()}")

    assert process.returncode == 1, err
    assert pid in err and '"ok": true' not in out and "Traceback" not in err, err
    limit = (float(RETRIES.read_timeout) if point == "verify-stream" else _retried_read_limit()) + 5
    assert float(RETRIES.read_timeout) <= seconds < limit, f"took {seconds:.1f}s, expected the read timeout, under {limit:g}s"
    assert _keys(lab, f"points/{pid}/verifications/") == [], "a verdict was recorded for an interrupted read"
    assert not next(p for p in _points(lab) if p["id"] == pid)["verified"]

    again = crmdr("backup", "verify", "--id", pid, "--json", "--inventory", str(inventory))
    assert again.returncode == 0 and json.loads(again.stdout)["ok"] is True, again.stderr
