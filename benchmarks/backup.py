"""Backups against the raw tools, same lab, same bucket, same run (medians of --repeat runs).

    .venv/bin/python -m benchmarks.backup --inventory LAB/inventory.json [--repeat 3]

1. `crmdr backup run` vs `pg_basebackup -Ft -X fetch` to local disk + a plain boto3 upload;
2. `crmdr backup verify` (integrity) vs a boto3 download + `sha256sum` (which checks less:
   no extraction, no pg_verifybackup), and vs download + sha256sum + tar -x + pg_verifybackup;
3. `crmdr backup verify --restore` vs download + tar -x + start until it accepts connections.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from recovery.adapters.aws_session import client
from recovery.adapters.scratch_pg import service_user
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import HostNode, Inventory, load_inventory

CRMDR = [sys.executable, "-m", "crmdr"]


def timed(action: Callable[[], object]) -> float:
    began = time.monotonic()
    action()
    return time.monotonic() - began


def sh(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed: {done.stderr.strip()[-300:]}")
    return done.stdout


def as_user(command: list[str]) -> list[str]:
    user = service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


class Raw:
    """The same jobs done with the raw tools."""

    def __init__(self, inventory: Inventory, work: Path) -> None:
        assert isinstance(inventory.database.primary, HostNode)
        self.node = inventory.database.primary
        self.inventory = inventory
        self.work = work
        self.s3 = client(inventory.aws, "s3", inventory.backup.region)
        ref = inventory.database.replication_password or inventory.database.password
        self.password = resolve_secret(ref, inventory) if ref else ""
        self.key = f"{inventory.backup.prefix}bench/raw/"

    def bin(self, name: str) -> str:
        return str(Path(self.node.bin_dir) / name)

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        user = service_user()
        if user:
            shutil.chown(path, user, user)
        return path

    def backup_then_upload(self) -> None:
        target = self.fresh("basebackup")
        sh([self.bin("pg_basebackup"), "-h", self.node.host, "-p", str(self.node.pg_port),
            "-U", self.inventory.database.replication_user, "--no-password", "-D", str(target),
            "-F", "tar", "-X", "fetch", "-c", "fast"], env={"PGPASSWORD": self.password})
        for name in ("base.tar", "backup_manifest"):  # -D DIR writes the manifest beside the tar
            self.s3.upload_file(str(target / name), self.inventory.backup.bucket, self.key + name,
                                ExtraArgs={"ServerSideEncryption": "aws:kms",
                                           "SSEKMSKeyId": self.inventory.backup.kms_key_id})

    def download_and_hash(self) -> Path:
        paths = [self.work / name for name in ("base.tar", "backup_manifest")]
        for path in paths:
            self.s3.download_file(self.inventory.backup.bucket, self.key + path.name, str(path))
        sh(["sha256sum", *map(str, paths)])
        return paths[0]

    def extract(self, tar: Path) -> Path:
        data = self.fresh("data")
        os.chmod(tar, 0o644)
        sh(as_user(["tar", "-x", "-f", str(tar), "-C", str(data)]))
        shutil.copy(tar.parent / "backup_manifest", data / "backup_manifest")
        return data

    def download_hash_verify(self) -> None:
        data = self.extract(self.download_and_hash())
        sh(as_user([self.bin("pg_verifybackup"), "-q", str(data)]))

    def download_extract_start(self) -> None:
        data = self.extract(self.download_and_hash())
        sock = self.fresh("sock")
        sh(as_user([self.bin("pg_ctl"), "start", "-D", str(data), "-w", "-l", str(sock / "log"), "-o",
                    f"-c listen_addresses='' -c unix_socket_directories='{sock}' -c archive_mode=off "
                    "-c primary_conninfo='' -c synchronous_standby_names=''"]))
        sh(as_user([self.bin("pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"]))


def ours(inventory_file: Path, *args: str) -> dict[str, object]:
    env = {"CRMDR_SCRATCH_DIR": str(Path(tempfile.gettempdir()))}
    return dict(json.loads(sh([*CRMDR, "backup", *args, "--inventory", str(inventory_file), "--json"], env)))


def one_round(inventory_file: Path, raw: Raw, times: dict[str, list[float]]) -> None:
    """Each of ours right before its raw counterpart, on the same point."""
    point: dict[str, object] = {}
    times["run"].append(timed(lambda: point.update(ours(inventory_file, "run"))))
    times["raw_run"].append(timed(raw.backup_then_upload))
    pid = str(point["id"])
    times["verify"].append(timed(partial(ours, inventory_file, "verify", "--id", pid)))
    times["raw_sha256"].append(timed(raw.download_and_hash))
    times["raw_sha256_verifybackup"].append(timed(raw.download_hash_verify))
    times["restore"].append(timed(partial(ours, inventory_file, "verify", "--id", pid, "--restore")))
    times["raw_restore"].append(timed(raw.download_extract_start))


def measure(inventory_file: Path, repeat: int) -> dict[str, list[float]]:
    inventory = load_inventory(inventory_file)
    work = Path(tempfile.mkdtemp(prefix="crmdr-bench-", dir="/tmp"))
    work.chmod(0o755)
    raw = Raw(inventory, work)
    times: dict[str, list[float]] = {k: [] for k in (
        "run", "raw_run", "verify", "raw_sha256", "raw_sha256_verifybackup", "restore", "raw_restore")}
    try:
        for _ in range(repeat):
            one_round(inventory_file, raw, times)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return times


def report(times: dict[str, list[float]], size: int) -> dict[str, object]:
    median = {name: statistics.median(values) for name, values in times.items()}
    pairs = [("backup run", "run", "raw_run", "pg_basebackup to disk + boto3 upload"),
             ("verify (integrity)", "verify", "raw_sha256", "download + sha256sum"),
             ("verify (integrity)", "verify", "raw_sha256_verifybackup",
              "download + sha256sum + tar -x + pg_verifybackup"),
             ("verify --restore", "restore", "raw_restore", "download + tar -x + start")]
    rows = [{"ours": label, "seconds": round(median[a], 2), "raw": raw, "raw_seconds": round(median[b], 2),
             "ratio": round(median[a] / median[b], 2)} for label, a, b, raw in pairs]
    return {"base_tar_bytes": size, "runs": len(times["run"]), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=Path(os.environ.get(
        "CRMDR_INVENTORY", ".crmdr/lab/inventory.json")))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    times = measure(args.inventory, args.repeat)
    inventory = load_inventory(args.inventory)
    s3 = client(inventory.aws, "s3", inventory.backup.region)
    size = int(s3.head_object(Bucket=inventory.backup.bucket,
                              Key=f"{inventory.backup.prefix}bench/raw/base.tar")["ContentLength"])
    result = report(times, size)
    print(json.dumps(result, indent=2))
    for row in result["rows"]:  # type: ignore[attr-defined]
        print(f"{row['ours']:<20} {row['seconds']:>7.2f} s  vs {row['raw']:<48} {row['raw_seconds']:>7.2f} s"
              f"  ratio {row['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
