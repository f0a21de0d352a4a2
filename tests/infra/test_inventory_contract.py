"""Contract: the `dr_inventory` stack output is an inventory the recovery side can load."""

import contextvars
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.mocks import AwsMocks
from infra.settings import STRATEGIES
from recovery.inventory import Inventory, RdsNode, load_inventory
from tests.infra.conftest import INFRA, preview_for, stack_config

pytestmark = INFRA


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_dr_inventory_validates_against_the_recovery_model(strategy: str, tmp_path: Path) -> None:
    document = preview_for(strategy).outputs["dr_inventory"]
    inventory = Inventory.model_validate(document)
    assert inventory.database.engine == "rds"
    assert isinstance(inventory.database.primary, RdsNode)
    assert isinstance(inventory.database.standby, RdsNode)
    assert (inventory.regions.primary, inventory.regions.dr) == ("eu-west-1", "eu-central-1")
    assert inventory.backup.region == inventory.lock.region == "eu-central-1"
    assert inventory.backup.object_lock is True
    assert inventory.dns.ttl <= 60
    assert inventory.dns.record_name == "db.example.com"
    assert inventory.database.password is not None
    assert inventory.database.password.describe() == "secretsmanager:crm-dr-test/db-master"
    has_replica = strategy != "backup-restore"
    assert (inventory.database.standby.endpoint is not None) is has_replica
    saved = tmp_path / "inventory.json"
    saved.write_text(json.dumps(document))  # what `pulumi stack output dr_inventory --json` writes
    assert load_inventory(saved) == inventory


def test_no_secret_value_reaches_the_inventory() -> None:
    text = json.dumps(preview_for("warm-standby").outputs["dr_inventory"])
    assert "test-password-not-real" not in text


def test_inventory_output_in_pulumis_own_test_idiom() -> None:
    """Mocks and config first, then the program; assertions inside Output.all(...).apply."""
    checked: list[bool] = []

    def scenario() -> None:
        pulumi.runtime.set_mocks(AwsMocks(), project="crm-dr", stack="idiom", preview=False)
        pulumi.runtime.set_all_config(stack_config(strategy="pilot-light", slaTier="silver"), ["crm-dr:dbPassword"])
        from infra import program  # imported once mocks and config are in place

        @pulumi.runtime.test
        def check() -> pulumi.Output[None]:
            deployment, password = program.read_configuration()
            stack = program.declare(deployment, password)

            def verify(args: list[Any]) -> None:
                document, primary_arn, replica_arn = args
                inventory = Inventory.model_validate(document)
                assert inventory.sla_tier == "silver"
                assert primary_arn.endswith(f":db:{inventory.database.primary.instance_id}")
                assert replica_arn.endswith(f":db:{inventory.database.standby.instance_id}")
                checked.append(True)

            assert stack.standby.replica is not None
            return pulumi.Output.all(program.inventory(stack), stack.crm.database.arn, stack.standby.replica.arn).apply(
                verify
            )

        check()

    contextvars.Context().run(scenario)
    assert checked == [True]
