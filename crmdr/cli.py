"""Entry point: builds the command tree and maps the DrError tree to exit codes.

Command modules import their heavy dependencies inside the command functions, so
`crmdr --help` and the recovery path stay fast and never import Pulumi.
"""

import logging
import os
import signal
import sys
from types import FrameType

import typer

from crmdr import __version__
from crmdr.commands import (
    backup,
    credits,
    demo,
    drill,
    incident,
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
from crmdr.output import emit_json_error, fail
from policies.errors import DrError, Interrupted, interrupted

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
app.command("credits")(credits.credits)
app.add_typer(incident.app, name="incident")

_state = {"debug": False, "interrupted": False}


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


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """The first signal raises Interrupted where the work is, so its cleanup runs; later ones wait."""
    if _state.get("interrupted"):
        sys.stderr.write(f"crmdr: {signal.Signals(signum).name} again: still cleaning up after the first one "
                         "(SIGKILL stops without cleanup)\n")
        return
    _state["interrupted"] = True
    raise Interrupted(signum)


def _interrupt_of(error: BaseException) -> Interrupted | None:
    """Typer turns a KeyboardInterrupt into a silent exit 130; find the interrupt behind it."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return interrupted(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _stopped(signal_error: Interrupted) -> int:
    message = signal_error.message or f"interrupted by {signal_error.signal_name}"
    sys.stderr.write(f"crmdr: {message}\n")
    return signal_error.exit_code


def _usage_error_as_json(done: SystemExit) -> None:
    """Typer has shown a bad flag or argument (exit 2); with --json the same error as the one JSON shape."""
    usage = done.__context__
    if isinstance(usage, typer.TyperException) and done.code:
        emit_json_error(usage.format_message(), "UsageError", int(done.code))


def main() -> None:
    """Console script: run the app, translate DrError to its exit code and one sentence, a usage
    error with --json to the JSON error too, and a signal (SIGINT, SIGTERM, SIGHUP) to one line
    saying where it stopped, exit 128 + signal."""
    for number in SIGNALS:
        signal.signal(number, _on_signal)
    json_out = "--json" in sys.argv[1:]
    try:
        app()
    except DrError as error:
        sys.exit(fail(error, debug=_state["debug"], json_out=json_out))
    except KeyboardInterrupt as error:
        sys.exit(_stopped(interrupted(error)))
    except SystemExit as done:
        found = _interrupt_of(done)
        if found is not None:
            sys.exit(_stopped(found))
        if json_out:
            _usage_error_as_json(done)
        raise
