"""One sshd per lab host, bound to that host's loopback address, with its own host key.

The host key's public half goes into the inventory as a known_hosts line: Fabric connects
with that key pinned and refuses any other.
"""

import subprocess
from pathlib import Path

from drills.lab import network
from drills.lab.settings import LabPaths
from drills.lab.system import is_root, os_user, pid_alive, read_pid, sshd_binary, terminate, wait_port
from policies.errors import HostError

CONFIG = """\
ListenAddress {ip}:{port}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
LogLevel ERROR
"""


def keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair, created once."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, capture_output=True,
    )


def known_hosts_line(paths: LabPaths, node: str, ip: str, port: int) -> str:
    """`[ip]:port ssh-ed25519 AAAA...`: the pin written into the inventory."""
    key_type, key = (paths.ssh_dir(node) / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    name = ip if port == 22 else f"[{ip}]:{port}"
    return f"{name} {key_type} {key}"


def configure(paths: LabPaths, node: str, ip: str, port: int) -> Path:
    """Host key, authorized client key and config for one host's sshd."""
    ssh = paths.ssh_dir(node)
    ssh.mkdir(parents=True, exist_ok=True)
    keygen(ssh / "ssh_host_ed25519_key", f"crmdr-lab-{node}")
    authorized = ssh / "authorized_keys"
    authorized.write_text(paths.client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o644)
    config = ssh / "sshd_config"
    config.write_text(
        CONFIG.format(
            ip=ip, port=port, host_key=ssh / "ssh_host_ed25519_key", pid_file=ssh / "sshd.pid",
            authorized_keys=authorized, user=os_user(),
        )
    )
    return config


def start(paths: LabPaths, node: str, ip: str, port: int, *, wait: bool = True) -> None:
    """`wait=False` for a host behind an isolation, whose port cannot be probed from here."""
    if pid_alive(pid(paths, node)):
        return
    config = configure(paths, node, ip, port)
    if is_root():
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    done = subprocess.run(
        network.in_namespace(paths, node, [str(sshd_binary()), "-f", str(config),
                                           "-E", str(paths.ssh_dir(node) / "sshd.log")]),
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise HostError(f"sshd for {node} on {ip}:{port} did not start: {done.stderr.strip()}")
    if wait:
        wait_port(ip, port, open_=True, timeout=10, what=f"sshd of {node}")


def stop(paths: LabPaths, node: str) -> None:
    terminate(pid(paths, node))


def pid(paths: LabPaths, node: str) -> int | None:
    return read_pid(paths.ssh_dir(node) / "sshd.pid")
