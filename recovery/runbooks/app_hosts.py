"""The runbook step that re-points the inventory's app hosts at the new primary (after DNS).

One unreachable app host fails the step naming it; the others are re-pointed anyway, and
a re-run (or `--resume`) converges because the check reads every host's file back.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from policies.errors import DrError, HostError
from recovery.runbooks.decisions import Truth
from recovery.runbooks.engine import Step

if TYPE_CHECKING:
    from recovery.adapters.app_config import AppHosts  # typed only: the site passes the adapter in


def pointed(apps: "AppHosts", address: Callable[[], str]) -> Truth:
    want = address()
    seen = apps.db_hosts()
    wrong = {name: value for name, value in seen.items() if value != want}
    shown = "; ".join(f"{name}: {'unreachable' if isinstance(value, DrError) else value or 'unset'}"
                      for name, value in wrong.items())
    if wrong:
        return Truth(False, f"not pointing at {want}: {shown}")
    return Truth(True, f"{', '.join(seen)} -> {want}")


def _point(apps: "AppHosts", address: Callable[[], str]) -> str:
    want = address()
    results = apps.point(want)
    failed = {name: str(r) for name, r in results.items() if isinstance(r, DrError)}
    done = [name for name, r in results.items() if not isinstance(r, DrError)]
    if failed:
        raise HostError(f"app host(s) {', '.join(failed)} not re-pointed ({'; '.join(failed.values())}); "
                        f"re-pointed: {', '.join(done) or 'none'}")
    return f"{', '.join(done)} -> {want}"


def app_hosts_steps(apps: "AppHosts | None", address: Callable[[], str], describe: str) -> list[Step]:
    """[] when the inventory lists no app hosts."""
    if apps is None or not apps.names:
        return []
    return [Step("app-hosts", f"set CRMDR_DB_HOST={describe} on app hosts {', '.join(apps.names)}", "dns",
                 check=lambda: pointed(apps, address), act=lambda: _point(apps, address), timeout=120)]
