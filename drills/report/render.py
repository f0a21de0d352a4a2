"""Renderings of the canonical report: self-contained HTML, JUnit XML for CI, short Markdown.

The HTML loads nothing from outside (a strict CSP, inline CSS and SVG), so it opens the same
way from an evidence archive years later.
"""

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from drills.judge import seconds_text
from drills.report.model import DrillReport
from policies.sizes import format_bytes

WIDTH = 720
COLOURS = {"succeeded": "#1f7a3d", "failed": "#b3261e", "skipped": "#8a94a3"}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "seconds":
        return seconds_text(value)
    if unit == "writes":
        return f"{int(value)} write(s)"
    return str(value)


def timeline_svg(report: DrillReport) -> Markup:
    """One bar per phase on a shared time axis (seconds from the drill's start)."""
    phases = report.timeline
    if not phases:
        return Markup("<p>No phases recorded.</p>")
    total = max(p.offset_seconds + p.duration_seconds for p in phases) or 1.0
    label, row = 150, 22
    scale = (WIDTH - label - 60) / total
    parts = [Markup('<svg id="timeline" role="img" aria-label="timeline of the drill phases" '
                    'width="{}" height="{}" xmlns="http://www.w3.org/2000/svg">').format(
                        WIDTH, row * len(phases) + 24)]
    for i, p in enumerate(phases):
        y = i * row + 4
        x = label + p.offset_seconds * scale
        w = max(2.0, p.duration_seconds * scale)
        parts.append(Markup(
            '<text x="0" y="{ty}">{name}</text><rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{h}" '
            'fill="{fill}"><title>{name}: {d:.3f} s</title></rect><text x="{lx:.1f}" y="{ty}">{d:.3f} s</text>'
        ).format(ty=y + 13, name=p.name, x=x, y=y, w=w, h=row - 6, fill=COLOURS.get(p.status, "#3b6fb6"),
                 d=p.duration_seconds, lx=x + w + 4))
    parts.append(Markup('<text x="{}" y="{}">0 s</text><text x="{}" y="{}">{:.2f} s</text></svg>').format(
        label, row * len(phases) + 20, WIDTH - 60, row * len(phases) + 20, total))
    return Markup("").join(parts)


def trend_points(report: DrillReport, history: Sequence[DrillReport]) -> list[tuple[str, float | None, bool]]:
    """(date, RTO seconds or None, passed) of past drills of the same type, this one last."""
    same = [h for h in history if h.drill.type == report.drill.type and h.report_id != report.report_id]
    chosen = [*same[-19:], report]
    return [(h.finished_at.date().isoformat(), _rto(h), h.passed) for h in chosen]


def _rto(report: DrillReport) -> float | None:
    value = report.measured.get("rto_seconds", report.measured.get("restore_seconds"))
    return float(value) if isinstance(value, int | float) else None


def trend_svg(points: list[tuple[str, float | None, bool]]) -> Markup:
    """Pass/fail dots on axes: x the drill's date, y its RTO in seconds (on the axis when not measured)."""
    height, left = 120, 70
    step = min(60, (WIDTH - left - 20) // max(1, len(points)))
    top = max((v for _, v, _ in points if v is not None), default=1.0) or 1.0
    parts = [Markup('<svg id="trend" role="img" aria-label="trend of past drills: RTO in seconds by date" '
                    'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
                    '<line x1="{l}" y1="{b}" x2="{w}" y2="{b}" stroke="#8a94a3"/>'
                    '<line x1="{l}" y1="10" x2="{l}" y2="{b}" stroke="#8a94a3"/>'
                    '<text x="0" y="24">RTO (s)</text><text x="{tl}" y="24" text-anchor="end">{top}</text>'
                    '<text x="{tl}" y="{z}" text-anchor="end">0 s</text>'
                    '<text x="{xl}" y="{xb}" text-anchor="end">drill date (UTC)</text>').format(
                        w=WIDTH, h=height + 44, l=left, b=height, z=height - 6, tl=left - 4, top=seconds_text(top),
                        xl=WIDTH, xb=height + 40)]
    for i, (day, value, passed) in enumerate(points):
        x = left + 10 + i * step
        y = height - 10 - (value / top * (height - 30) if value is not None else 0)
        parts.append(Markup(
            '<circle cx="{x}" cy="{y:.1f}" r="5" fill="{fill}"><title>{day}: {verdict}, {shown}</title>'
            '</circle><text x="{tx}" y="{ty}">{short}</text>'
        ).format(x=x, y=y, fill=COLOURS["succeeded" if passed else "failed"], day=day,
                 verdict="pass" if passed else "fail",
                 shown=seconds_text(value) if value is not None else "n/a", tx=x - 12, ty=height + 14,
                 short=day[5:]))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


COMMUNICATION = "customer_communication"  # shown in its own section, not as a measured row


def measured_row(key: str, value: object) -> tuple[str, str]:
    """(label, figure with its unit) for the Measured table: never a Python repr (None, [], 1.9107948…)."""
    for suffix, unit in (("_seconds", "seconds"), ("_per_second", "per second"), ("_bytes", "bytes")):
        if key.endswith(suffix):
            label, kind = key[: -len(suffix)], unit
            break
    else:
        label, kind = key, "bytes" if key == "bytes" else ""
    label = label.replace("_", " ")
    if value is None or value == "":
        return label, "not measured"
    if isinstance(value, bool):
        return label, "yes" if value else "no"
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:20])
        return label, "none" if not value else f"{len(value)}: {shown}{' …' if len(value) > 20 else ''}"
    if isinstance(value, int | float):
        if kind == "seconds":
            return label, seconds_text(float(value))
        if kind == "bytes":
            return label, format_bytes(value)
        number = f"{value:,}" if isinstance(value, int) else f"{value:,.3g}"
        return label, f"{number} per second" if kind == "per second" else number
    return label, str(value)


def _measured_rows(report: DrillReport) -> list[tuple[str, str]]:
    return [measured_row(key, value) for key, value in sorted(report.measured.items()) if key != COMMUNICATION]


def render_html(report: DrillReport, history: Sequence[DrillReport] = ()) -> bytes:
    env = Environment(loader=PackageLoader("drills.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True)
    page = env.get_template("report.html.j2").render(
        r=report, fmt=fmt, timeline_svg=timeline_svg(report),
        trend_svg=trend_svg(trend_points(report, history)), measured_rows=_measured_rows(report),
        communication=report.measured.get(COMMUNICATION),
    )
    return page.encode()


def render_junit(report: DrillReport) -> bytes:
    """One test case per objective, integrity check and cleanup step; failures carry the margin."""
    suite = ET.Element("testsuite", name=f"crmdr drill {report.drill.type}",
                       timestamp=report.started_at.isoformat(),
                       time=f"{(report.finished_at - report.started_at).total_seconds():.3f}")
    cases: list[tuple[str, str, bool, str]] = [
        ("objectives", o.name, o.passed, o.detail) for o in report.objectives]
    cases += [("integrity", c.name, c.passed, c.detail) for c in report.integrity_checks]
    cases += [("cleanup", c.name, c.passed, c.detail) for c in report.cleanup]
    for group, name, passed, detail in cases:
        case = ET.SubElement(suite, "testcase", classname=f"crmdr.drill.{report.drill.type}.{group}", name=name)
        if not passed:
            ET.SubElement(case, "failure", message=detail, type="SLABreach" if group == "objectives" else group)
        else:
            ET.SubElement(case, "system-out").text = detail
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for case in cases if not case[2])))
    root = ET.Element("testsuites", name="crmdr")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def render_markdown(report: DrillReport) -> bytes:
    verdict = "ABORTED" if report.aborted else "PASSED" if report.passed else "FAILED"
    lines = [f"# DR drill {report.drill.type} — {verdict}", "",
             f"- Report `{report.report_id}`, {report.started_at:%Y-%m-%d %H:%M:%S} UTC, "
             f"stack {report.scope.stack} ({report.scope.environment}), tier {report.drill.tier}",
             f"- Scenario: {report.drill.scenario or 'n/a'}; next drill due {report.next_drill_due:%Y-%m-%d}", "",
             "| Objective | Result | Detail |", "|---|---|---|"]
    lines += [f"| {o.name} | {'pass' if o.passed else '**FAIL**'} | {o.detail} |" for o in report.objectives]
    if report.deviations:
        lines += ["", "Deviations:", *[f"- {d}" for d in report.deviations]]
    lines += ["", f"Signed ({report.signing.key_fingerprint}); verify with `crmdr report verify`."]
    return ("\n".join(lines) + "\n").encode()


def render_all(report: DrillReport, history: Sequence[DrillReport] = ()) -> dict[str, bytes]:
    return {"report.html": render_html(report, history), "report.junit.xml": render_junit(report),
            "report.md": render_markdown(report)}


def summary(report: DrillReport) -> dict[str, Any]:
    """The verdict with the measured figures, for `--json`."""
    return {"report_id": report.report_id, "passed": report.passed, "aborted": report.aborted,
            "drill": report.drill.type,
            "tier": report.drill.tier, "objectives": [o.model_dump() for o in report.objectives],
            "measured": report.measured, "deviations": report.deviations}
