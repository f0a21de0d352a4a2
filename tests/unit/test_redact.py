"""The one secret scrubber: every secret replaced, empty and missing ones ignored, length capped."""

import pytest

from recovery.redact import error_line, redact

pytestmark = pytest.mark.unit


def test_every_secret_is_replaced_and_missing_ones_are_ignored() -> None:
    assert redact("user=a password=s3cret token=t0k s3cret", ["s3cret", None, "", "t0k"]) == \
        "user=a password=*** token=*** ***"


def test_the_limit_cuts_only_when_given() -> None:
    assert redact("x" * 700, []) == "x" * 700
    cut = redact("x" * 700, [], 600)
    assert len(cut) == 600 and cut.endswith("...")


def test_an_error_keeps_its_last_line_scrubbed() -> None:
    err = RuntimeError('connection to "host=db password=pw" failed\nFATAL: password pw rejected')
    assert error_line(err, ["pw"]) == "FATAL: password *** rejected"
    assert error_line(ValueError(), ["pw"]) == "ValueError"
