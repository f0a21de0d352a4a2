"""The lab's downtime intake: its DynamoDB table in the DR region of the stand-in, and the web
service under uvicorn in a process of its own on LabSettings.intake_ip:INTAKE_PORT.

Self-contained (its own pid file and log under DIR/intake/), so `lab up/down/status` each call
one function here.
"""

import os
import sys
import time
from pathlib import Path
from typing import Any

from drills.lab import network
from drills.lab.settings import INTAKE_PORT, LabPaths, LabSettings
from drills.lab.system import pid_alive, port_open, read_pid, terminate, wait_port
from drills.lab.topology import INTAKE_TABLE
from recovery.adapters.aws_session import client
from recovery.inventory import Intake, Inventory

WHAT = "intake service"
APP = "outage.intake.service:app_from_env"
KMS_ALIAS = "alias/crmdr-intake"


def _dir(paths: LabPaths) -> Path:
    return paths.root / "intake"


def pid_file(paths: LabPaths) -> Path:
    return _dir(paths) / "uvicorn.pid"


def provision(inventory: Inventory, settings: LabSettings) -> Inventory:
    """The intake's KMS key and table in the DR region (once); returns the inventory with the key id.

    The lab gives the intake a single-Region key of its own: moto 5.2 refuses Decrypt (and so
    envelope decryption) under the backup's multi-Region key. In AWS the Pulumi program uses the
    DR key itself.
    """
    intake = inventory.intake
    if intake is None:  # a lab written before the intake existed: give it one
        intake = Intake(url=f"http://{settings.intake_ip}:{INTAKE_PORT}", table=INTAKE_TABLE,
                        region=inventory.regions.dr, drill_account="1")
        inventory = inventory.model_copy(update={"intake": intake})
    region = intake.region or inventory.regions.dr
    key_id = intake.kms_key_id
    if key_id in (None, "pending"):
        kms = client(inventory.aws, "kms", region)
        key_id = str(kms.create_key(Description="crm-dr downtime intake (lab)")["KeyMetadata"]["KeyId"])
        kms.create_alias(AliasName=KMS_ALIAS, TargetKeyId=key_id)
        inventory = inventory.model_copy(update={"intake": intake.model_copy(update={"kms_key_id": key_id})})
    _ensure_table(inventory, region, intake.table, key_id or "")
    return inventory


def _ensure_table(inventory: Inventory, region: str, table: str, key_id: str) -> None:
    """The intake table (key request_id), encrypted at rest with the intake's KMS key; created once."""
    ddb = client(inventory.aws, "dynamodb", region)
    if table in ddb.list_tables().get("TableNames", []):
        return
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_id},
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})


def start(paths: LabPaths, settings: LabSettings, *, rate_per_minute: int | None = None) -> int:
    """Start uvicorn unless the recorded one is alive; the service reads DIR/inventory.json."""
    pid = read_pid(pid_file(paths))
    if pid_alive(pid) and pid is not None:
        return pid
    env = {**os.environ, "CRMDR_INVENTORY": str(paths.inventory)}
    if rate_per_minute is not None:
        env["CRMDR_INTAKE_RATE"] = str(rate_per_minute)
    command = [sys.executable, "-m", "uvicorn", APP, "--factory", "--host", str(settings.intake_ip),
               "--port", str(INTAKE_PORT), "--no-access-log", "--log-level", "warning"]
    started = network.start_on(paths, "intake", command, log=_dir(paths) / "uvicorn.log", ip=str(settings.intake_ip),
                               port=INTAKE_PORT, what=WHAT, env=env)
    pid_file(paths).write_text(f"{started}\n")
    return started


def stop(paths: LabPaths, settings: LabSettings) -> bool:
    """Stop it by its pid; True when one was running."""
    pid = read_pid(pid_file(paths))
    if not pid_alive(pid):
        return False
    terminate(pid)
    wait_port(str(settings.intake_ip), INTAKE_PORT, open_=False, timeout=15, what=WHAT)
    return True


def kill(paths: LabPaths) -> int | None:
    """SIGKILL (a crash, for tests and the benchmark); returns the pid killed."""
    pid = read_pid(pid_file(paths))
    if pid is None or not pid_alive(pid):
        return None
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    return pid


def status(paths: LabPaths, settings: LabSettings) -> dict[str, Any]:
    pid = read_pid(pid_file(paths))
    address = f"{settings.intake_ip}:{INTAKE_PORT}"
    return {"part": WHAT, "address": address, "pid": pid,
            "healthy": pid_alive(pid) and port_open(str(settings.intake_ip), INTAKE_PORT)}
