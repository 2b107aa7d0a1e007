"""A report as a mail: its subject line, its text and HTML bodies, its attachments.

The subject is a verdict a reader can act on from the inbox list: the digest's
(``overview["verdict"]``) when there is one, else the command, the site and the headline
figures: ``[logaudit] shop.example.com summary 2026-12-01 to 2026-12-04: 15,477 requests,
732 visitors``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from logaudit.config import Settings
from logaudit.deliver.mail import build_message
from logaudit.digest import site_name
from logaudit.render.escape import safe
from logaudit.report import Report
from logaudit.wording import counted

ATTACHABLE: dict[str, tuple[str, str, str]] = {
    # --attach name -> (renderer, MIME type, file extension)
    "json": ("json", "application/json", "json"),
    "csv": ("csv", "text/csv", "csv"),
}


@dataclass
class Bodies:
    text: str
    html: str


def render_to_string(report: Report, fmt: str) -> str:
    from logaudit.render import RENDERERS

    buf = io.StringIO()
    RENDERERS[fmt](report, buf)
    return buf.getvalue()


def render_bodies(report: Report) -> Bodies:
    """The text body (the ``text`` renderer) and the HTML body: the ``html`` renderer with its
    charts drawn as tables (``render.tablechart``), which Gmail and Outlook show, where they
    show no SVG."""
    from logaudit.render import html, tablechart

    page = io.StringIO()
    html.render(report, page, charts=tablechart)
    return Bodies(render_to_string(report, "text"), page.getvalue())


def _day(iso: object) -> str:
    return str(iso)[:10] if iso else "?"


def subject_for(report: Report, settings: Settings) -> str:
    verdict = report.overview.get("verdict")
    if verdict:
        return str(verdict)
    ov = report.overview
    first, last = _day(ov.get("first_local")), _day(ov.get("last_local"))
    period = first if first == last else f"{first} to {last}"
    figures = counted(int(ov.get("requests") or 0), "request")
    if ov.get("unique_visitors") is not None:
        figures += f", {counted(int(ov['unique_visitors']), 'visitor')}"
    if ov.get("share_5xx"):
        figures += f", 5xx {float(ov['share_5xx']) * 100:.1f} %"
    return f"[logaudit] {site_name(report, settings)} {report.command} {period}: {figures}"


def attachments_for(
    report: Report, names: Sequence[str], stem: str
) -> list[tuple[str, str, bytes]]:
    out = []
    for n in names:
        renderer, mime, ext = ATTACHABLE[n]
        out.append((f"{stem}.{ext}", mime, render_to_string(report, renderer).encode("utf-8")))
    return out


def compose(
    report: Report, settings: Settings, recipients: Sequence[str], attach: Sequence[str] = ()
) -> EmailMessage:
    """The whole message for ``report``: subject, text + HTML, attachments."""
    stem = f"logaudit-{report.command}-{_day(report.overview.get('last_local'))}"
    return build_message(
        render_bodies(report),
        subject_for(report, settings),
        [safe(r) for r in recipients],
        settings.mail,
        attachments_for(report, attach, stem),
    )
