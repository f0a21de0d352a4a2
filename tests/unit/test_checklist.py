"""The people's outage checklist: shipped file valid in both languages, bad files named by line, lateness."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.checklist import Confirmation, late_steps, load_checklist, progress
from policies.errors import ConfigError

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_the_shipped_checklist_has_the_steps_people_take_in_en_and_de() -> None:
    checklist = load_checklist()
    ids = [item.id for item in checklist.items]
    assert {"customer-success", "downtime-form", "first-update", "resolve"} <= set(ids)
    assert all(item.en and item.de and item.en != item.de for item in checklist.items)


def test_a_bad_file_is_named_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "list.yaml"
    bad.write_text("version: 1\nitems:\n  - id: a\n    en: A\n    de: A\n  - id: b\n    en: B\n    de: B\n    within: soon\n")
    with pytest.raises(ConfigError, match=r"list.yaml: line 9.*within"):
        load_checklist(bad)
    bad.write_text("version: 1\nitems:\n  - {id: a, en: A, de: A}\n  - {id: a, en: B, de: B}\n")
    with pytest.raises(ConfigError, match="'a' appears twice"):
        load_checklist(bad)


def test_steps_are_late_when_past_their_target_from_detection() -> None:
    checklist = load_checklist()
    done = [Confirmation("incident-lead", "alice", T0 + timedelta(minutes=3)),
            Confirmation("first-update", "bob", T0 + timedelta(minutes=12)),
            Confirmation("incident-lead", "carol", T0 + timedelta(minutes=30))]
    steps = {s.item.id: s for s in progress(checklist, done, T0, T0 + timedelta(minutes=20))}
    assert steps["incident-lead"].confirmed == done[0], "the first confirmation counts"
    assert not steps["incident-lead"].late
    assert steps["first-update"].late, "10 min target, done after 12"
    assert steps["customer-success"].late, "15 min target, not done at 20"
    assert not steps["resolve"].late, "no target"
    assert late_steps(list(steps.values())) == ["first-update", "customer-success", "downtime-form"]
    assert steps["first-update"].to_dict("de", T0)["after_detection_seconds"] == 720
