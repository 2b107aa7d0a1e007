"""The one call the CLI makes to mail a finished report (or write it as .eml with --dry-run)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from logaudit.config import Settings
from logaudit.deliver.compose import compose
from logaudit.deliver.mail import deliver, eml_name, write_eml
from logaudit.errors import ConfigError
from logaudit.report import Report


def recipients_for(settings: Settings, command: str) -> tuple[str, ...]:
    """--mail-to; for the digest also the config's ``mail.to`` (a summary run by hand must
    not start mailing because the config names the digest's readers)."""
    given = tuple(settings.extra.get("deliver", {}).get("mail_to") or ())
    if given:
        return given
    return settings.mail.to if command == "digest" else ()


def mail_report(
    report: Report,
    settings: Settings,
    recipients: Sequence[str],
    attach: Sequence[str] = (),
    dry_run: bool = False,
    eml: Path | None = None,
) -> str:
    """Send ``report``; one line saying what was done. MailError (exit 11) on failure, with
    the message left on disk."""
    if not recipients:
        raise ConfigError("no recipient: give --mail-to, or mail.to in the config for digest")
    msg = compose(report, settings, recipients, attach)
    if dry_run:
        path = write_eml(msg, eml or Path(eml_name(report.command)))
        return f"--dry-run: the message was written to {path}, not sent"
    deliver(msg, recipients, settings.mail, report.command)
    via = settings.mail.via if settings.mail.via == "sendmail" else settings.mail.smtp_host
    return f"mailed to {', '.join(recipients)} via {via}"
