"""Renderings of the review: self-contained HTML (no script, nothing loaded) and short Markdown. Pure."""

from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from outage.review.model import IncidentReview


def iso(value: datetime | None, timespec: str = "seconds") -> str:
    return "—" if value is None else value.isoformat(timespec=timespec).replace("+00:00", "Z")


def secs(value: float | None) -> str:
    if value is None:
        return "not measured"
    if value < 120:
        return f"{value:.3f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s ({value:.1f} s)"


def environment() -> Environment:
    return Environment(loader=PackageLoader("outage.review", "templates"), autoescape=select_autoescape(["html", "j2"]),
                       keep_trailing_newline=True)


def render_html(review: IncidentReview) -> bytes:
    return environment().get_template("review.html.j2").render(
        r=review, m=review.measured, i=review.impact, f=review.findings, iso=iso, secs=secs).encode()


def render_markdown(review: IncidentReview) -> bytes:
    m, i, f = review.measured, review.impact, review.findings
    owed = ", ".join(f"{a} {c}" for c, a in i.credits_owed.items()) or "none"
    lines = [f"# Incident review: {review.title}", "",
             f"- Incident `{review.incident_id}`, impact {review.impact_level}{' (drill)' if review.drill else ''}; "
             f"review `{review.report_id}`",
             f"- Outage started {iso(m.outage_started_at)}, declared {iso(m.declared_at)}, "
             f"restored {iso(m.service_restored_at)}",
             f"- Time to detect: {secs(m.time_to_detect_seconds)}; RTO: {secs(m.rto_seconds)} ({m.rto_basis})",
             f"- RPO: {secs(m.rpo_seconds)}; lost writes: "
             f"{'not measured' if m.lost_writes is None else m.lost_writes} ({m.loss_basis})",
             f"- Downtime: {i.down_minutes} min; requests taken: "
             f"{'unknown' if i.requests_taken is None else i.requests_taken}; credits owed: {owed}", "",
             "## Timeline", "", "| Time (UTC) | What | Source |", "|---|---|---|"]
    lines += [f"| {e.at:%Y-%m-%d %H:%M:%S} | {e.what.replace('|', '/')} | `{e.source}` |" for e in review.timeline]
    lines += ["", "## Root cause", "", f.root_cause, ""]
    lines += [f"- contributing: {c}" for c in f.contributing_factors]
    lines += ["", "## Corrective actions", "", "| Id | Action | Owner | Due | Status |", "|---|---|---|---|---|"]
    lines += [f"| {a.id} | {a.action} | {a.owner} | {a.due} | {a.status} |" for a in f.corrective_actions]
    lines += ["", "## Changes to the outage to-do list", "", *([f"- {c}" for c in f.checklist_changes] or ["- none"]),
              "", f"Signed ({review.signing.key_fingerprint}); verify with `crmdr report verify`."]
    return ("\n".join(lines) + "\n").encode()


def render_all(review: IncidentReview) -> dict[str, bytes]:
    return {"review.html": render_html(review), "review.md": render_markdown(review)}
