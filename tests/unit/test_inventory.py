"""The inventory contract: typed, secrets only as references, errors that point at the line."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from policies.errors import ConfigError
from recovery.inventory import inventory_schema, load_inventory
from tests.conftest import crmdr, make_inventory

pytestmark = pytest.mark.unit


def test_builder_gives_a_valid_inventory_that_round_trips(tmp_path: Path) -> None:
    inventory = make_inventory()
    path = tmp_path / "inventory.json"
    path.write_text(inventory.to_json())
    assert load_inventory(path) == inventory


def test_same_region_twice_is_rejected() -> None:
    with pytest.raises(ValidationError, match="DR region to differ"):
        make_inventory(**{"regions.dr": "us-east-1", "backup.region": "us-east-1", "lock.region": "us-east-1"})


def test_backup_bucket_must_live_in_the_dr_region() -> None:
    with pytest.raises(ValidationError, match=r"backup\.region to be the DR region"):
        make_inventory(**{"backup.region": "us-east-1"})


def test_a_password_value_is_not_accepted_only_a_reference() -> None:
    with pytest.raises(ValidationError):
        make_inventory(**{"database.password": "hunter2"})
    with pytest.raises(ValidationError, match="exactly one of"):
        make_inventory(**{"database.password": {"env": "A", "file": "/b"}})


def test_engine_and_node_kinds_must_agree() -> None:
    with pytest.raises(ValidationError):
        make_inventory(**{"database.engine": "rds"})


def test_error_names_file_line_and_field_without_echoing_secrets(tmp_path: Path) -> None:
    data = json.loads(make_inventory().to_json())
    data["database"]["primary"]["pg_port"] = "five"
    data["database"]["password"] = "s3cr3t-canary"
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert str(path) in message and "line " in message
    assert "s3cr3t-canary" not in message


def test_yaml_inventory_error_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    lines = ["stack: x", "sla_tier: gold", "regions:", "  primary: us-east-1", "  dr: us-west-2", "database:",
             "  engine: mainframe"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"inventory.yaml: line 7: field 'database.engine'"):
        load_inventory(path)


def test_schema_is_exported_by_the_cli() -> None:
    result = crmdr("inventory", "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema == json.loads(json.dumps(inventory_schema()))
    assert {"stack", "regions", "database", "backup", "dns", "lock", "notify", "sla_tier"} <= set(schema["required"])


def test_bad_inventory_via_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    path.write_text("{not json")
    result = crmdr("inventory", "check", "--inventory", str(path))
    assert result.returncode == 2
    assert "line 1" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://s3.example.net", "expected the S3 server's base URL"),
    ("https://", "expected the S3 server's base URL"),
    ("https://s3.example.net/bucket", "expected the S3 server's base URL"),
    ("http://s3.example.net:99999", "expected a port from 1 to 65535"),
])
def test_a_bad_backup_endpoint_exits_2_naming_file_line_and_field(tmp_path: Path, url: str, why: str) -> None:
    data = json.loads(make_inventory().to_json())
    data["backup"]["endpoint_url"] = url
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(data, indent=2))

    result = crmdr("inventory", "check", "--inventory", str(path))

    assert result.returncode == 2, result.stdout
    assert f"{path}: line " in result.stderr and "field 'backup.endpoint_url'" in result.stderr
    assert why in result.stderr and "Traceback" not in result.stderr


def test_backup_endpoint_and_encryption_are_optional_and_validated() -> None:
    inventory = make_inventory(**{"backup.endpoint_url": "https://s3.example.net:9000", "backup.encryption": "envelope"})
    assert inventory.backup.endpoint_url == "https://s3.example.net:9000"
    assert make_inventory().backup.encryption == "sse-kms" and make_inventory().backup.endpoint_url is None
    with pytest.raises(ValidationError, match=r"backup\.encryption"):
        make_inventory(**{"backup.encryption": "plaintext"})
