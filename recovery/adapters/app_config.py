"""Re-pointing application hosts over Fabric (pinned keys): read and write their env file.

The write is atomic on the host: the new file goes to a temporary name in the same
directory, then `mv` replaces the old one, so an application never reads half a file.
Partial failure is data: every host answers with its value or its error.
"""

import base64
import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from policies.errors import DrError, HostError, HostKeyMismatch
from recovery.adapters.fabric_host import FabricHostRunner
from recovery.envfile import DB_HOST_KEY, env_value, with_value
from recovery.inventory import AppHost, Ssh

T = TypeVar("T")


class AppHosts:
    """The inventory's app hosts; `open` refuses a changed host key, tolerates a down host."""

    def __init__(self, apps: list[AppHost], ssh: Ssh) -> None:
        self._apps = {app.name: app for app in apps}
        self._runners = {app.name: FabricHostRunner(app, ssh) for app in apps}

    @property
    def names(self) -> list[str]:
        return list(self._apps)

    def open(self) -> dict[str, str]:
        """Connect to every app host; returns name -> why it is unreachable."""
        unreachable: dict[str, str] = {}
        for name, runner in self._runners.items():
            try:
                runner.open()
            except HostKeyMismatch:
                raise
            except HostError as err:
                unreachable[name] = str(err)
        return unreachable

    def _read(self, name: str) -> str:
        path = shlex.quote(self._apps[name].config_file)
        done = self._runners[name].run(f"cat -- {path}", check=False, timeout=30)
        if done.ok:
            return done.stdout
        if "No such file" in done.stderr:
            return ""
        raise HostError(f"app host {name}: cannot read {self._apps[name].config_file}: {done.stderr.strip()}")

    def db_hosts(self) -> dict[str, str | DrError | None]:
        """name -> the database host its config names (None: not set), or the error."""
        return self._each(lambda name: env_value(self._read(name)))

    def point(self, address: str) -> dict[str, str | DrError]:
        """Write `CRMDR_DB_HOST=address` on every host; name -> evidence or error."""
        return self._each(lambda name: self._write(name, address))

    def _write(self, name: str, address: str) -> str:
        path = self._apps[name].config_file
        payload = base64.b64encode(with_value(self._read(name), address).encode()).decode()
        quoted, temp = shlex.quote(path), shlex.quote(f"{path}.crmdr-tmp")
        self._runners[name].run(
            f"printf %s {payload} | base64 -d > {temp} && (chmod --reference={quoted} {temp} 2>/dev/null; true)"
            f" && mv -f {temp} {quoted}", timeout=30)
        seen = env_value(self._read(name))
        if seen != address:
            raise HostError(f"app host {name}: {path} names {seen} after the write, expected {address}")
        return f"{name}: {path} {DB_HOST_KEY}={address}"

    def _each(self, one: Callable[[str], T]) -> dict[str, T | DrError]:
        def guarded(name: str) -> T | DrError:
            try:
                return one(name)
            except DrError as err:
                return err

        with ThreadPoolExecutor(max_workers=max(1, min(16, len(self._apps)))) as pool:
            return dict(zip(self._apps, pool.map(guarded, self._apps), strict=True))

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
