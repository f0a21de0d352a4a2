"""Words and progress: no label said twice, units on figures, durations on steps, sizes for people."""

import re
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drills.report.render import measured_row
from policies.documents import read_document
from policies.errors import ConfigError
from policies.sizes import format_bytes
from recovery.runbooks.progress import StepProgress
from tests.unit.test_report import make_report

pytestmark = pytest.mark.unit


def test_the_measured_table_has_units_and_rounded_figures_never_python_values(tmp_path: Path) -> None:
    html = (make_report(tmp_path / "out", Ed25519PrivateKey.generate(), 1, rto=1.910794802000055)
            / "report.html").read_text()
    table = html[html.index('<table id="measured">'):]
    table = table[:table.index("</table>")]
    cells = dict(re.findall(r"<th>([^<]*)</th><td class=\"mono\">([^<]*)</td>", table))
    assert cells["rto"] == "1.91s" and cells["lost ids"] == "none" and cells["oldest lost age"] == "not measured"
    for python in ("None", "[]", "1.910794802000055", "True", "False"):
        assert python not in table, python


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("probe_rate_per_second", 100.0, ("probe rate", "100 per second")), ("bytes", 52_428_800, ("bytes", "50.0 MiB")),
    ("synchronous_replication", False, ("synchronous replication", "no")), ("lost_ids", [3, 4], ("lost ids", "2: 3, 4")),
    ("acknowledged", 12345, ("acknowledged", "12,345")), ("replication_lag_seconds", None,
                                                         ("replication lag", "not measured")),
])
def test_each_measured_figure_reads_with_its_unit(key: str, value: object, shown: tuple[str, str]) -> None:
    assert measured_row(key, value) == shown


def test_the_trend_chart_has_axes_and_units(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    make_report(tmp_path / "out", key, 1)
    html = (make_report(tmp_path / "out", key, 2, rto=2.5) / "report.html").read_text()
    trend = html[html.index('<svg id="trend"'):]
    trend = trend[:trend.index("</svg>")]
    assert ">RTO (s)</text>" in trend and ">drill date (UTC)</text>" in trend and ">0 s</text>" in trend
    assert trend.count("<line") == 2 and trend.count("<circle") == 2


def test_sizes_are_human_readable() -> None:
    assert [format_bytes(n) for n in (512, 1536, 52_326_400, 3 * 2**30)] == ["512 B", "1.5 KiB", "49.9 MiB",
                                                                            "3.0 GiB"]


def test_an_inventory_mapping_takes_an(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected an inventory mapping"):
        read_document(path, what="inventory")


class FakeClock:
    def __init__(self) -> None:
        self.at = 100.0

    def now(self):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")

    def monotonic(self) -> float:
        return self.at


def test_each_step_line_has_its_duration_and_a_long_step_says_it_is_running() -> None:
    clock, lines, said = FakeClock(), [], threading.Event()

    def report(line: str) -> None:
        lines.append(line)
        said.set()

    progress = StepProgress(clock, report)  # type: ignore[arg-type]
    clock.at += 0.25
    assert progress.finished("fence", "succeeded") == "fence: succeeded (0.2 s)"
    with progress.watching(lambda: "rebuild"):
        clock.at += 7.0
        assert said.wait(5), "a step running for 7 s was reported while it ran"
    assert lines[0] == "rebuild: running (7 s)"
    assert progress.finished("rebuild", "succeeded") == "rebuild: succeeded (7.0 s)"
