"""Runs ON the restore target: stream a physical recovery point from the DR bucket into a data dir.

    PYTHON -m recovery.adapters.restore_fetch --inventory FILE --point ID --data-dir DIR \
        --bin-dir BIN --marker FILE

Runs as the PostgreSQL OS user (the node's SSH user), so the files it extracts are that
user's. Each object is read once: every stored byte goes through SHA-256 and, expanded as the
manifest says (zstd, lz4 or none), into `tar -x` at the same time; then pg_verifybackup
checks the files against PostgreSQL's own backup_manifest and pg_controldata the cluster
identity. Only when all of that holds is the marker written (the runbook's proof that the step
is done). Exit 0 with a JSON summary on stdout, else exit 1
with one sentence on stderr.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from policies.errors import DrError, HostError, VerificationFailed
from recovery.adapters import pg_tools
from recovery.backups.compression import Compression
from recovery.backups.manifest import ObjectEntry
from recovery.ports import ObjectStore


def extract(store: ObjectStore, entry: ObjectEntry, compression: Compression, data_dir: Path) -> int:
    """Feed one tar object, expanded, into `tar -x`, hashing the stored bytes; VerificationFailed
    when it is not the promised one."""
    from recovery.backups.verify import stream_object

    reason: str | None = f"object {entry.key}: tar -x stopped reading before its end"
    read = 0
    with tempfile.TemporaryFile() as errors:
        command = ["tar", "-x", "-f", "-", "-C", str(data_dir)]
        tar = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        stdin = tar.stdin
        if stdin is None:
            raise HostError("tar -x has no stdin")
        try:
            reason, read = stream_object(store, entry, compression, stdin.write)
        except BrokenPipeError:
            pass  # tar stopped reading: its exit code and message say why
        finally:
            stdin.close()
            code = tar.wait()
        if code != 0:
            errors.seek(0)
            last = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
            raise VerificationFailed(f"object {entry.key} is not a readable tar archive (tar -x exited {code}: "
                                     f"{last})")
    if reason:
        raise VerificationFailed(reason)
    return read


def restore(inventory_file: Path, pid: str, data_dir: Path, bin_dir: str) -> dict[str, object]:
    from recovery.adapters.s3_store import S3ObjectStore
    from recovery.backups.verify import load_point, object_problem
    from recovery.inventory import load_inventory

    store = S3ObjectStore(load_inventory(inventory_file), lock_mode="GOVERNANCE")
    point = load_point(store, pid)
    if point.kind != "physical":
        raise VerificationFailed(f"recovery point {pid} is {point.kind}, not physical")
    for entry in point.objects:
        head = store.head(entry.key)
        problem = object_problem(entry, head.size if head else None)
        if problem:
            raise VerificationFailed(problem)
    read = sum(extract(store, entry, point.compression, data_dir) for entry in point.objects)
    check = subprocess.run([pg_tools.tool("pg_verifybackup", bin_dir), "-q", str(data_dir)],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise VerificationFailed(f"pg_verifybackup rejects the restored files: {check.stderr.strip()}")
    system_id, major = pg_tools.controldata_identity(bin_dir, data_dir)
    if (system_id, major) != (point.cluster.system_identifier, point.cluster.major):
        raise VerificationFailed(f"the restored files hold cluster {system_id} (PostgreSQL {major}), the "
                                 f"manifest says {point.cluster.system_identifier} (PostgreSQL {point.cluster.major})")
    return {"point": pid, "bytes": read, "sha256": {e.key: e.sha256 for e in point.objects},
            "pg_verifybackup": "backup successfully verified", "system_identifier": system_id}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery.adapters.restore_fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--point", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--marker", type=Path, required=True, help="written last, once everything holds")
    args = parser.parse_args(argv)
    try:
        summary = restore(args.inventory, args.point, args.data_dir, args.bin_dir)
    except (DrError, OSError) as err:
        sys.stderr.write(f"restore_fetch: {err}\n")
        return 1
    partial = args.marker.with_name(args.marker.name + ".tmp")
    partial.write_text(json.dumps(summary, sort_keys=True))
    partial.replace(args.marker)
    sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
