"""The README benchmark table: one module's run replaces its rows and keeps the others'."""

from pathlib import Path

import pytest

from benchmarks._readme import END, START, record, write_readme
from benchmarks.table import row

pytestmark = pytest.mark.unit


def test_a_module_run_replaces_only_its_rows_between_the_markers(tmp_path: Path) -> None:
    results, readme = tmp_path / "results.json", tmp_path / "README.md"
    readme.write_text(f"# title\n\n{START}\nold table\n{END}\n\n## after\n")
    record("rto", [row("failover RTO", [1.0, 2.0, 3.0], "raw floor", [0.2], "< 2 s", 2.0, on="median")], results)
    record("startup", [row("crmdr --help", [0.1, 0.2])], results)
    record("rto", [row("failover RTO", [2.5, 3.0, 3.5], "raw floor", [0.25], "< 2 s", 2.0, on="median")], results)
    write_readme(results, readme)
    text = readme.read_text()
    assert "old table" not in text and text.endswith("## after\n")
    lines = [line for line in text.splitlines() if line.startswith("| rto") or line.startswith("| startup")]
    assert lines == ["| rto | failover RTO | 3.000 | 2.500 | 3.500 | raw floor (0.250 s) | 12.00 | < 2 s | **no** |",
                     "| startup | crmdr --help | 0.150 | 0.100 | 0.200 |  |  |  |  |"]
    assert "cores" in text and "make bench" in text


def test_the_table_is_appended_when_the_readme_has_no_markers(tmp_path: Path) -> None:
    results, readme = tmp_path / "results.json", tmp_path / "README.md"
    readme.write_text("# title\n")
    record("startup", [row("crmdr --help", [0.1])], results)
    write_readme(results, readme)
    assert readme.read_text().count(START) == 1 and "| startup | crmdr --help |" in readme.read_text()
