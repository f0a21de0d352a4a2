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
    """Pass/fail dots, with height the RTO when one was measured."""
    height, step = 120, min(60, (WIDTH - 40) // max(1, len(points)))
    top = max((v for _, v, _ in points if v is not None), default=1.0) or 1.0
    parts = [Markup('<svg id="trend" role="img" aria-label="trend of past drills" width="{}" height="{}" '
                    'xmlns="http://www.w3.org/2000/svg"><line x1="20" y1="{}" x2="{}" y2="{}" '
                    'stroke="#c3c9d1"/>').format(WIDTH, height + 30, height, WIDTH, height)]
    for i, (day, value, passed) in enumerate(points):
        x = 30 + i * step
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


def _measured_rows(report: DrillReport) -> list[tuple[str, str]]:
    rows = []
    for key, value in sorted(report.measured.items()):
        if key == COMMUNICATION:
            continue
        shown = f"{len(value)} items: {value[:20]} …" if isinstance(value, list) and len(value) > 20 else value
        rows.append((key.replace("_", " "), str(shown)))
    return rows


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
    verdict = "PASSED" if report.passed else "FAILED"
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
    return {"report_id": report.report_id, "passed": report.passed, "drill": report.drill.type,
            "tier": report.drill.tier, "objectives": [o.model_dump() for o in report.objectives],
            "measured": report.measured, "deviations": report.deviations}
