"""Entry point: builds the command tree and maps the DrError tree to exit codes.

Command modules import their heavy dependencies inside the command functions, so
`crmdr --help` and the recovery path stay fast and never import Pulumi.
"""

import logging
import os
import sys

import typer

from crmdr import __version__
from crmdr.commands import (
    backup,
    demo,
    drill,
    intake,
    inventory,
    lab,
    plan,
    policy,
    report,
    restore,
    runbooks,
    status,
    watch,
)
from crmdr.output import fail
from policies.errors import DrError

app = typer.Typer(
    name="crmdr",
    help="Disaster recovery for a CRM stack on AWS: backups proven to restore, fenced "
    "failover, drills that measure RTO/RPO, reports an auditor can trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
app.add_typer(lab.app, name="lab")
app.add_typer(backup.app, name="backup")
app.add_typer(policy.app, name="policy")
app.add_typer(inventory.app, name="inventory")
app.command("demo")(demo.demo)
app.command("plan")(plan.plan)
app.add_typer(drill.app, name="drill")
app.add_typer(report.app, name="report")
runbooks.register(app)
status.register(app)
app.command("watch")(watch.watch)
app.command("restore")(restore.restore)
app.add_typer(intake.app, name="intake")

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crmdr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["debug"] = debug or bool(os.environ.get("CRMDR_DEBUG"))
    logging.basicConfig(
        level=logging.DEBUG if _state["debug"] else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console script: run the app, translate DrError to its exit code and one sentence."""
    try:
        app()
    except DrError as error:
        sys.exit(fail(error, debug=_state["debug"]))
    except KeyboardInterrupt:
        sys.stderr.write("crmdr: interrupted\n")
        sys.exit(130)
