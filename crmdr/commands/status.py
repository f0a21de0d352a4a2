"""`crmdr status open|update|resolve|show|due|publish` (registers `crmdr checklist` too)."""

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from crmdr.commands.notices import service
from crmdr.commands.options import InventoryOption, JsonOption
from crmdr.output import emit_json, say

if TYPE_CHECKING:
    from outage.status.service import Draft, Published

app = typer.Typer(help="Customer status updates: the page, its Atom feed and Statuspage-shaped JSON, "
                  "subscribers, the cadence.", no_args_is_help=True)

PolicyOption = typer.Option(None, "--policy", help="SLA policy file (default: the shipped tiers).")
TierOption = typer.Option(None, "--tier", help="SLA tier whose status_notice_every is the cadence "
                          "(default: the inventory's sla_tier).")
DrillOption = typer.Option(False, "--drill", help="Write to the drill-marked location; customers get nothing.")
IncidentOption = typer.Option(None, "--incident", help="Incident id (default: the one open incident).")
MessageOption = typer.Option(None, "--message", help="What is known, in your words (the template adds the "
                             "rest: what is not known, the apology, the times).")
VerbatimOption = typer.Option(False, "--verbatim", help="Publish --message as the whole text.")
FixOption = typer.Option(None, "--fix-time", help="Only if you know it: when service is expected back "
                         "(ISO 8601 UTC). Without it no message promises a time.")
ImpactOption = typer.Option(None, "--impact", help="none, minor, major or critical.")
ComponentOption = typer.Option(None, "--component", help="Affected component id (repeat; default: all, "
                               "or the incident's).")
LanguageOption = typer.Option(None, "--language", help="en or de (default: the inventory's status.language).")
ByOption = typer.Option(None, "--by", help="Who publishes (default: the OS user).")


def register(root: typer.Typer) -> None:
    from crmdr.commands import checklist

    root.add_typer(app, name="status")
    root.add_typer(checklist.app, name="checklist")


def utc_option(value: str | None, flag: str) -> datetime | None:
    from policies.errors import ConfigError

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} {value}: expected an ISO 8601 time such as 2026-12-01T15:30:00Z") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"{flag} {value}: expected a UTC time (ending in Z)")
    return parsed.astimezone(UTC)


def choice(value: str | None, allowed: tuple[str, ...], flag: str) -> Any:
    from policies.errors import ConfigError

    if value is not None and value not in allowed:
        raise ConfigError(f"{flag} {value}: expected one of {', '.join(allowed)}")
    return value


def _draft(state: str, message: str | None, verbatim: bool, impact: str | None, components: list[str] | None,
           fix_time: str | None, by: str | None) -> "Draft":
    from outage.status.model import IMPACTS, STATES
    from outage.status.service import Draft

    return Draft(state=choice(state, STATES, "--state"), note=message, verbatim=verbatim,
                 impact=choice(impact, IMPACTS, "--impact"), components=tuple(components or ()),
                 fix_time=utc_option(fix_time, "--fix-time"), author=by or getpass.getuser())


def _shown(result: "Published", json_out: bool) -> None:
    if json_out:
        emit_json(result.to_dict())
        return
    update = result.update
    say(f"{update.state}: incident {update.incident} update {update.seq} published "
        f"{'(DRILL location) ' if result.drill else ''}at {update.at.isoformat()}")
    say(update.message)
    for delivery in result.deliveries:
        say(f"  {delivery.channel} {delivery.target}: {delivery.outcome}"
            f"{f' ({delivery.error})' if delivery.error else ''}")


@app.command("open")
def open_(
    title: str = typer.Option(..., "--title", help="What customers see as the incident's name."),
    impact: str | None = ImpactOption, component: list[str] | None = ComponentOption,
    message: str | None = MessageOption, verbatim: bool = VerbatimOption, fix_time: str | None = FixOption,
    language: str | None = LanguageOption, by: str | None = ByOption, drill: bool = DrillOption,
    inventory: Path | None = InventoryOption, policy: Path | None = PolicyOption, tier: str | None = TierOption,
    json_out: bool = JsonOption,
) -> None:
    """Open an incident with an 'investigating' update; the page, feed, JSON and subscribers get it."""
    ask = _draft("investigating", message, verbatim, impact or "major", component, fix_time, by)
    _shown(service(inventory, policy, tier, drill, language).open(title, ask), json_out)


@app.command("update")
def update(
    state: str = typer.Option(..., "--state", help="investigating, identified, monitoring or resolved."),
    message: str | None = MessageOption, verbatim: bool = VerbatimOption, impact: str | None = ImpactOption,
    component: list[str] | None = ComponentOption, fix_time: str | None = FixOption,
    incident: str | None = IncidentOption, language: str | None = LanguageOption, by: str | None = ByOption,
    drill: bool = DrillOption, inventory: Path | None = InventoryOption, policy: Path | None = PolicyOption,
    tier: str | None = TierOption, json_out: bool = JsonOption,
) -> None:
    """Append an update (never an edit: a correction is a new update)."""
    ask = _draft(state, message, verbatim, impact, component, fix_time, by)
    _shown(service(inventory, policy, tier, drill, language).update(incident, ask), json_out)


@app.command("resolve")
def resolve(
    message: str | None = MessageOption, verbatim: bool = VerbatimOption, incident: str | None = IncidentOption,
    language: str | None = LanguageOption, by: str | None = ByOption, drill: bool = DrillOption,
    inventory: Path | None = InventoryOption, policy: Path | None = PolicyOption, tier: str | None = TierOption,
    json_out: bool = JsonOption,
) -> None:
    """Resolve the incident: a person's decision, never automatic."""
    ask = _draft("resolved", message, verbatim, None, None, None, by)
    _shown(service(inventory, policy, tier, drill, language).update(incident, ask), json_out)


@app.command("show")
def show(
    incident: str | None = IncidentOption, drill: bool = DrillOption, inventory: Path | None = InventoryOption,
    policy: Path | None = PolicyOption, tier: str | None = TierOption, json_out: bool = JsonOption,
) -> None:
    """Incidents in the log (newest first) with every update, and the deliveries of each."""
    from crmdr.commands.status_views import show_incidents

    svc = service(inventory, policy, tier, drill)
    chosen = [svc.find(incident)] if incident else svc.incidents()
    show_incidents(svc, [i for i in chosen if i is not None], json_out)


@app.command("due")
def due(
    drill: bool = DrillOption, inventory: Path | None = InventoryOption, policy: Path | None = PolicyOption,
    tier: str | None = TierOption, json_out: bool = JsonOption,
) -> None:
    """Exit 1 when an update is overdue (saying since when); the missed promise is recorded."""
    verdicts = service(inventory, policy, tier, drill).due()
    if json_out:
        emit_json({"incidents": [{"incident": v.incident, "due_at": v.due_at.isoformat() if v.due_at else None,
                                  "overdue": v.overdue, "remind": v.remind,
                                  "overdue_since": v.overdue_since.isoformat() if v.overdue_since else None,
                                  "reason": v.reason()} for v in verdicts],
                   "overdue": any(v.overdue for v in verdicts)})
    else:
        for verdict in verdicts:
            say(verdict.reason())
        if not verdicts:
            say("no open incident: no update due")
    if any(v.overdue for v in verdicts):
        raise typer.Exit(1)


@app.command("publish")
def publish(
    out: Path | None = typer.Option(None, "--out", help="Also write the site's files into this directory."),
    drill: bool = DrillOption, inventory: Path | None = InventoryOption, policy: Path | None = PolicyOption,
    tier: str | None = TierOption, json_out: bool = JsonOption,
) -> None:
    """Render page, feed and JSON from the whole log and upload them to the DR-region bucket."""
    from outage.status.render import site_files

    svc = service(inventory, policy, tier, drill)
    keys, when = svc.publish()
    if out is not None:
        for path, (data, _type) in site_files(svc.page, svc.incidents(), when, drill=drill).items():
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_bytes(data)
    if json_out:
        emit_json({"published": keys, "at": when.isoformat(), "url": svc.page.url, "drill": drill,
                   "out": str(out) if out else None})
    else:
        say(f"published {len(keys)} files at {when.isoformat()}: {svc.page.url}")
