"""Bad input, fuzzed (continued from test_fuzz_inputs.py): what the toolkit reads back from
storage. A recovery point manifest damaged in the bucket is a verification failure
(VerificationFailed, exit 1, naming the manifest's key), not bad user input; a damaged byte
in a signed, chained report directory makes `crmdr report verify` answer exit 1 naming the
file, never a traceback. Damage that changes no meaning (whitespace in the signature file, a
blank line in the chain, a deleted field equal to its default) may pass; nothing else may."""

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from drills.report.chain import verify
from drills.report.signing import load_or_create_key
from drills.report.store import CHAIN, SIGNATURE
from policies.errors import DrError, VerificationFailed
from recovery.backups.manifest import (
    ClusterIdentity,
    ObjectEntry,
    RecoveryPoint,
    manifest_key,
    parse_manifest,
    seal,
    to_bytes,
)
from recovery.backups.validation import TableDigest
from tests.conftest import crmdr
from tests.unit.test_fuzz_inputs import FUZZ, mutated_text, mutated_tree
from tests.unit.test_report import make_report

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POINT = seal(RecoveryPoint(
    id="20260301T120000Z-physical", kind="physical", stack="crm", tool_version="0.1.0", started_at=T0,
    finished_at=T0, start_lsn="0/3000028", stop_lsn="0/3000100",
    cluster=ClusterIdentity(system_identifier="7300000000000000001", pg_version=150004, timeline=1),
    objects=[ObjectEntry(key="points/20260301T120000Z-physical/base.tar.zst", size=1024, sha256="a" * 64)],
    kms_key_id="alias/crm-backups", retain_until=T0, tables={"accounts": TableDigest(rows=3, checksum="c0ffee")}))
KEY = manifest_key(POINT.id)
FIGURES: Counter[str] = Counter()


@FUZZ
@given(st.one_of(mutated_tree(POINT.model_dump(mode="json")).map(lambda t: json.dumps(t).encode()),
                 mutated_text(to_bytes(POINT).decode())))
def test_a_damaged_manifest_is_a_verification_failure_naming_its_key(data: bytes) -> None:
    FIGURES["manifest"] += 1
    try:
        point = parse_manifest(data, KEY)
    except VerificationFailed as err:
        assert "\n" not in str(err) and KEY in str(err), str(err)
        return
    assert seal(point) == POINT, "a changed manifest passed its self-check"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real signed, chained drill reports."""
    base = tmp_path_factory.mktemp("reports")
    key = load_or_create_key(base / "keys" / "signing.pem", create=True)
    out = base / "out"
    make_report(out, key, 1)
    make_report(out, key, 2)
    assert verify(out) == (2, [])
    return out


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _same_meaning(name: str, before: bytes, after: bytes) -> bool:
    """Unsigned containers may change form without changing what they say."""
    try:
        if name == SIGNATURE:
            return bool(json.loads(after) == json.loads(before))
        if name == CHAIN:
            return [json.loads(line) for line in after.splitlines() if line.strip()] == \
                   [json.loads(line) for line in before.splitlines() if line.strip()]
    except ValueError:
        return False
    return False


@st.composite
def damaged_file(draw: st.DrawFn, root: Path) -> tuple[str, bytes]:
    name = draw(st.sampled_from(_files(root)))
    return name, draw(mutated_text((root / name).read_text()))


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="crmdr-fuzz-report-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@FUZZ
@given(data=st.data())
def test_a_damaged_report_directory_fails_verification_naming_the_file(report_dir: Path, scratch: Path,
                                                                       data: st.DataObject) -> None:
    name, damaged = data.draw(damaged_file(report_dir))
    original = (report_dir / name).read_bytes()
    assume(damaged != original)
    FIGURES["report"] += 1
    copy = scratch / f"r{FIGURES['report']}"
    shutil.copytree(report_dir, copy)
    (copy / name).write_bytes(damaged)
    try:
        _, problems = verify(copy)
    except DrError as err:
        problems = [str(err)]
    text = "\n".join(problems)
    if not problems:
        assert _same_meaning(Path(name).name, original, damaged), f"{name} damaged, yet the chain verifies"
        return
    assert Path(name).name in text or (Path(name).name == CHAIN and "chain" in text), text


def test_figures_are_recorded() -> None:
    print(f"fuzzed stored inputs per file type: {dict(FIGURES)}")
    assert sum(FIGURES.values()) == 0 or FIGURES["manifest"] > 0


@pytest.mark.parametrize("damage", [b'{"report_id": ', b"\xff\xfe\n", b"[1, 2]\n", b'{"sha256": "x"}\n'],
                         ids=["torn", "not-utf8", "not-an-object", "no-report-id"])
def test_report_verify_cli_answers_a_damaged_chain_with_exit_1(report_dir: Path, scratch: Path,
                                                                damage: bytes) -> None:
    copy = scratch / "reports"
    shutil.copytree(report_dir, copy)
    with (copy / CHAIN).open("ab") as chain:
        chain.write(damage)

    done = crmdr("report", "verify", str(copy))

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and CHAIN in done.stdout + done.stderr


