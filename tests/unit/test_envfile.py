"""The app hosts' env file: recovery owns one CRMDR_DB_HOST line and keeps everything else."""

import pytest

from recovery.envfile import env_value, with_value

pytestmark = pytest.mark.unit


def test_value_is_replaced_in_place_other_lines_kept() -> None:
    text = "# app\nCRM_PORT=8080\nCRMDR_DB_HOST=10.0.0.1\nLOG=info\n"

    assert with_value(text, "10.1.0.1") == "# app\nCRM_PORT=8080\nCRMDR_DB_HOST=10.1.0.1\nLOG=info\n"


def test_missing_key_is_appended_and_duplicates_collapse_to_one() -> None:
    assert with_value("A=1", "db.example") == "A=1\nCRMDR_DB_HOST=db.example\n"
    assert with_value("CRMDR_DB_HOST=a\nexport CRMDR_DB_HOST=b\n", "c") == "CRMDR_DB_HOST=c\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("CRMDR_DB_HOST=10.0.0.1\n", "10.0.0.1"),
    ("export CRMDR_DB_HOST='db.x'\n", "db.x"),
    ("CRMDR_DB_HOST=a\nCRMDR_DB_HOST=b\n", "b"),
    ("# CRMDR_DB_HOST=commented\nOTHER=1\n", None),
    ("", None),
])
def test_value_is_what_a_shell_sourcing_the_file_would_see(text: str, expected: str | None) -> None:
    assert env_value(text) == expected
