"""`crmdr lab up | status | down`: the local DR lab."""

import ipaddress
from pathlib import Path

import typer

from crmdr.commands.options import JsonOption, LabDirOption
from crmdr.output import emit_json, say, ticking
from policies.sizes import format_bytes

app = typer.Typer(help="The local DR lab: PostgreSQL primary + standby over SSH, moto for AWS.",
                  no_args_is_help=True)


@app.command("up")
def up(
    directory: Path = LabDirOption,
    rows: int = typer.Option(200, "--rows", help="CRM accounts to generate (x12 rows in all)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the deterministic data generator."),
    synchronous: bool = typer.Option(False, "--sync/--async", help="Synchronous replication."),
    tier: str = typer.Option("gold", "--tier", help="SLA tier written into the inventory."),
    primary_ip: str = typer.Option("127.0.0.11", "--primary-ip"),
    standby_ip: str = typer.Option("127.0.0.12", "--standby-ip"),
    aws_ip: str = typer.Option("127.0.0.10", "--aws-ip"),
    app_ip: str | None = typer.Option(
        None, "--app-ip", help="App host that failovers re-point (default: next after the standby; '' for none)."),
    ssh_port: int = typer.Option(2222, "--ssh-port"),
    pg_port: int = typer.Option(5433, "--pg-port"),
    aws_port: int = typer.Option(4566, "--aws-port"),
    network: str = typer.Option(
        "auto", "--network", help="auto: each host in a network namespace when root, else loopback; netns; loopback."),
    dns_port: int = typer.Option(5353, "--dns-port", help="The lab DNS server's port (UDP and TCP, on --aws-ip)."),
    dns_ttl: int = typer.Option(5, "--dns-ttl", help="TTL of the database name's records (1-60 s): clients cache "
                                "an answer that long, so a failover drill's RTO includes up to it."),
    json_out: bool = JsonOption,
) -> None:
    """Start the lab (idempotent) and write DIR/inventory.json."""
    from drills.lab.lab import up as lab_up
    from drills.lab.settings import LabSettings
    from policies.documents import settings_from_flags

    settings = settings_from_flags(
        LabSettings,
        {"rows": rows, "seed": seed, "synchronous": synchronous, "sla_tier": tier,
         "primary_ip": primary_ip, "standby_ip": standby_ip, "aws_ip": aws_ip, "app_ip": _app_ip(app_ip, standby_ip),
         "ssh_port": ssh_port, "pg_port": pg_port, "aws_port": aws_port, "dns_port": dns_port,
         "dns_ttl": dns_ttl, "network": network},
    )
    steps = ["before its first step"]

    try:
        with ticking(not json_out) as tick:

            def report(step: str) -> None:
                steps.append(step)
                tick(step)

            inventory = lab_up(directory, settings, report)
    except KeyboardInterrupt as err:
        from policies.errors import interrupted

        stop = interrupted(err)
        raise stop.with_message(
            f"lab up interrupted by {stop.signal_name} at: {steps[-1]}; what it started keeps running: "
            f"`crmdr lab down --dir {directory}` removes it, or run `crmdr lab up --dir {directory}` again") from None
    path = directory / "inventory.json"
    if json_out:
        emit_json({"dir": str(directory), "inventory": str(path), "stack": inventory.stack,
                   "dns_name": inventory.dns.record_name,
                   "status_url": inventory.status.url if inventory.status else None})
    else:
        say(f"lab up in {directory}; inventory: {path}; database name {inventory.dns.record_name}"
            f"{f'; status page {inventory.status.url}' if inventory.status else ''}")


def _app_ip(given: str | None, standby_ip: str) -> str | None:
    """Next to the standby, so a lab on other addresses never borrows the default lab's app host."""
    if given is not None:
        return given or None
    try:
        return str(ipaddress.ip_address(standby_ip) + 1)
    except ValueError:
        return None  # the standby's address itself is then reported as the bad input


@app.command("status")
def status(directory: Path = LabDirOption, json_out: bool = JsonOption) -> None:
    """Health of each part and the standby's replication lag (exit 1 when unhealthy)."""
    from drills.lab.lab import status as lab_status

    result = lab_status(directory)
    if json_out:
        emit_json(result)
    elif not result["up"]:
        say(f"no lab in {directory} (run `crmdr lab up`)")
    else:
        for part in result["parts"]:
            mark = "[green]  ok[/green]" if part["healthy"] else "[red]DOWN[/red]"
            role = f" ({part['role']})" if "role" in part else ""
            answer = "".join(f"  {part[key]}" for key in ("answer", "records") if key in part)
            say(f"{mark}  {part['part']}{role}  {part.get('address', '')}{answer}")
        rep = result["replication"]
        if rep.get("state"):
            lag = rep.get("lag_bytes")
            say(f"replication: {rep.get('state')} {rep.get('sync_state', '')}, "
                f"lag {format_bytes(lag) if isinstance(lag, int) else '?'} / {rep.get('lag_seconds', 0):.3f} s")
        receiver = rep.get("receiver", {})
        say(f"standby's WAL receiver: {receiver.get('status', '?')} {receiver.get('sender', '')}".rstrip())
        net = result["network"]
        say(f"network: {net['mode']}" + (f" (cannot run: {'; '.join(net['cannot'])})" if net["cannot"] else ""))
        for cut in result["cuts"]:
            say(f"[red] CUT[/red]  {_cut_text(cut)}")
        for warning in result.get("warnings", []):
            say(f"[red]WARNING[/red] {warning}")
    if not result["healthy"]:
        raise typer.Exit(1)


@app.command("down")
def down(
    directory: Path = LabDirOption,
    purge: bool = typer.Option(False, "--purge", help="Also remove the lab directory."),
    json_out: bool = JsonOption,
) -> None:
    """Stop every process the lab started (by PID); no listening port left behind."""
    from drills.lab.lab import down as lab_down

    stopped = lab_down(directory, purge=purge)
    if json_out:
        emit_json({"dir": str(directory), "stopped": stopped, "purged": purge})
    else:
        say(f"lab down in {directory}: stopped {', '.join(stopped) or 'nothing (not running)'}")


def _cut_text(cut: dict[str, object]) -> str:
    return f"{cut['node']} from {cut['from']}" if cut.get("from") else f"{cut['node']} (both ways)"


@app.command("cut")
def cut(
    node: str = typer.Argument(..., help="Host (primary, standby, app, aws) or service (dns) to cut off."),
    source: str | None = typer.Option(
        None, "--from", help="Cut only what arrives from this node (a host or 'operator'); default: both ways."),
    directory: Path = LabDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Partition a lab host (iptables DROP inside its namespace), journalled in DIR/faults.jsonl."""
    from drills.lab import cuts

    entry = cuts.cut(directory, node, source)
    if json_out:
        emit_json({**entry, "cuts": cuts.active(directory)})
    else:
        say(f"cut: {entry['how']}")


@app.command("heal")
def heal(
    node: str | None = typer.Argument(None, help="Heal the cuts of this node (as target or source); default: all."),
    directory: Path = LabDirOption,
    json_out: bool = JsonOption,
) -> None:
    """Lift the lab's cuts (every one, or one node's), journalled."""
    from drills.lab import cuts

    healed = cuts.heal(directory, node)
    if json_out:
        emit_json({"healed": healed, "cuts": cuts.active(directory)})
    else:
        say(f"healed: {', '.join(_cut_text(h) for h in healed) or 'nothing was cut'}")
