"""The iptables adapter refuses clearly where it cannot work, and leaves other chains alone."""

from pathlib import Path

import pytest

from policies.errors import ConfigError
from recovery.adapters import local_firewall


def test_missing_iptables_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no iptables on it
    with pytest.raises(ConfigError, match="iptables is not installed"):
        local_firewall.cut("127.0.102.250")


def test_not_an_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="expected an IPv4 address"):
        local_firewall.chain("db.crm.lab.")


def test_chain_names_fit_iptables_limit() -> None:
    longest = local_firewall.chain("255.255.255.255", local_firewall.ISOLATION)
    assert len(longest) <= 28  # iptables' chain name limit (XT_EXTENSION_MAXNAMELEN - 1)
