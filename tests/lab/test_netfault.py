"""Lab network faults: a cut address swallows packets (connects time out), heal restores it."""

import socket
import subprocess

import pytest

from drills.lab import netfault
from policies.errors import ConfigError
from recovery.adapters import local_firewall
from tests.lab.conftest import Lab


def connects(address: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except TimeoutError:
        return False


def test_cut_times_out_and_heal_restores(fresh_lab: Lab) -> None:
    address, port = str(fresh_lab.settings.primary_ip), fresh_lab.settings.pg_port
    assert connects(address, port)
    with netfault.cut_off(address):
        netfault.cut(address)  # idempotent: a second cut adds no rule
        assert netfault.is_cut(address)
        rules = subprocess.run(["iptables", "-S", local_firewall.chain(address)],
                               capture_output=True, text=True, check=True).stdout
        assert rules.count("-j DROP") == 1
        assert not connects(address, port)
        assert connects(str(fresh_lab.settings.standby_ip), port)
    assert not netfault.is_cut(address)
    netfault.heal(address)  # idempotent
    assert connects(address, port)


def test_lab_down_heals_its_cuts_and_isolations(fresh_lab: Lab) -> None:
    from drills.lab.lab import down

    address, isolated = str(fresh_lab.settings.standby_ip), str(fresh_lab.settings.primary_ip)
    netfault.cut(address)
    local_firewall.cut(isolated, local_firewall.ISOLATION)
    assert not netfault.is_cut(isolated), "an isolation is not a network fault"
    stopped = down(fresh_lab.dir, purge=False)
    assert f"network cut of {address}" in stopped and f"isolation of {isolated}" in stopped
    assert not netfault.is_cut(address) and not local_firewall.is_cut(isolated, local_firewall.ISOLATION)


def test_rejects_non_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        netfault.cut("10.1.2.3")
