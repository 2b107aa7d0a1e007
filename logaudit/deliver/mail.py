"""Sending a report by e-mail: stdlib ``email`` to build it, ``smtplib`` or sendmail to send it.

The message is multipart/alternative: the ``text`` rendering for plain-text readers and the
``html`` rendering, with any ``--attach`` renderings (JSON, CSV) as attachments.

**Charts as tables.** The HTML body draws its charts as tables of coloured cells
(``compose.render_bodies``, ``render/tablechart.py``): Gmail (web and app) and Outlook
(desktop, outlook.com) show no SVG at all, inline or as an ``image/svg+xml`` part, where every
client draws a cell's width, height and ``bgcolor``. So the message has no image part; the
``--format html`` file report keeps its SVG charts.

**Failure leaves the message on disk.** Any failure (refused, timeout, TLS, authentication, a
rejected sender or recipient, sendmail's non-zero exit) raises ``MailError`` (exit 11) after the
whole message was written as an ``.eml`` file (owner-only) to the spool folder; its path is in
the error. ``sendmail -t < file.eml`` or any mail client can send it later.

Temporary failures (connection refused or reset, timeouts, 4xx replies, including a 4xx to
MAIL FROM or RCPT TO: greylisting's 451) are retried ``retries`` times with doubling back-off;
permanent ones (authentication, certificates, 5xx replies) are not, since repeating them cannot
help and may lock an account. When some recipients were accepted and others refused with a
4xx, only the refused ones are tried again. The ``.eml`` left after a partial refusal, or
after a retry that failed for good (a 554 to DATA once some got it), is addressed to the
recipients who did not get the message only, so sending it later mails no one twice.
"""

from __future__ import annotations

import contextlib
import email.policy
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any

from logaudit.config import MailSettings
from logaudit.deliver.files import OutputError
from logaudit.errors import MailError
from logaudit.render.escape import safe

BACKOFF_SECONDS = 2.0  # first wait between attempts; doubles each time
_sleep = time.sleep  # the back-off's wait (a test replaces it here, not process-wide)


def default_sender() -> str:
    return f"logaudit@{socket.getfqdn() or 'localhost'}"


def build_message(
    bodies: Any,
    subject: str,
    recipients: Sequence[str],
    mail: MailSettings,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """The whole message. ``attachments``: (file name, MIME type, content)."""
    # Python's folding of a long unstructured header at 78 columns breaks right after
    # "Subject:" and readers then show a leading space; RFC 5322's hard limit is 998.
    msg = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    msg["Subject"] = safe(subject).replace("\n", " ")
    msg["From"] = mail.sender or formataddr(("logaudit", default_sender()))
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="logaudit")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a cron mail
    msg.set_content(bodies.text, subtype="plain", cte="quoted-printable")
    msg.add_alternative(bodies.html, subtype="html", cte="quoted-printable")
    for name, mime, content in attachments:
        main, sub = mime.split("/", 1)
        msg.add_attachment(content, main, sub, filename=name)
    return msg


def write_eml(msg: EmailMessage, path: Path) -> Path:
    """The message as an owner-only file (0600): reports hold personal data. Written whole or
    not at all (``deliver.files``), so a half-written .eml never looks like a whole one."""
    from logaudit.deliver.files import atomic_output_binary, private_folder

    try:
        private_folder(path.parent)
    except OSError as e:  # a file where a folder must be, /proc: one line, exit 9
        raise OutputError(f"{path.parent}: cannot create the folder ({e.strerror})") from None
    with atomic_output_binary(path, 0o600) as f:
        f.write(msg.as_bytes())
    return path


def eml_name(command: str) -> str:
    return f"logaudit-{command}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.eml"


class _Temporary(Exception):
    """A failure worth another attempt."""


class Undelivered(MailError):
    """A failure after which ``pending`` (bare addresses) still need the message; the others
    got it."""

    def __init__(self, message: str, pending: Sequence[str]) -> None:
        super().__init__(message)
        self.pending = tuple(pending)


Refusals = dict[str, tuple[int, str]]  # recipient -> (SMTP code, reply text)


def _tls_context(mail: MailSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if mail.ca_file is not None:
        ctx.load_verify_locations(cafile=str(mail.ca_file))
    return ctx


def _smtp_once(msg: EmailMessage, recipients: Sequence[str], mail: MailSettings) -> Refusals:
    """Send once; the recipients the server refused (every one, or some: the others got it).
    A failure that reached no one raises: _Temporary or MailError."""
    host, port = mail.smtp_host, mail.port()
    where = f"{host}:{port}"
    try:
        smtp: smtplib.SMTP
        if mail.tls == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=mail.timeout, context=_tls_context(mail))
        else:
            smtp = smtplib.SMTP(host, port, timeout=mail.timeout)
        with smtp:
            if mail.tls == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise MailError(
                        f"SMTP {where} does not offer STARTTLS (set tls = \"ssl\" or, on a "
                        "trusted local relay only, \"none\")"
                    )
                smtp.starttls(context=_tls_context(mail))
                smtp.ehlo()
            if mail.user:
                smtp.login(mail.user, mail.password or "")
            refused = smtp.send_message(msg, to_addrs=list(recipients))
            return {r: (c, _reply(m)) for r, (c, m) in refused.items()}
    except MailError:
        raise
    except smtplib.SMTPServerDisconnected as e:
        # smtplib reports a timeout while reading the greeting as a disconnection.
        if "timed out" in str(e):
            raise _Temporary(f"SMTP {where}: timed out after {mail.timeout:g} s") from None
        raise _Temporary(f"SMTP {where}: the server closed the connection") from None
    except smtplib.SMTPAuthenticationError as e:
        why = f"{e.smtp_code} {_reply(e.smtp_error)}"
        raise MailError(f"SMTP {where}: authentication failed ({why})") from None
    except smtplib.SMTPRecipientsRefused as e:
        return {r: (c, _reply(m)) for r, (c, m) in e.recipients.items()}
    except smtplib.SMTPSenderRefused as e:
        why = f"{e.smtp_code} {_reply(e.smtp_error)}"
        text = f"SMTP {where} refused the sender {safe(e.sender)} ({why})"
        if 400 <= e.smtp_code < 500:  # greylisting answers MAIL FROM with 451 too
            raise _Temporary(text) from None
        raise MailError(text) from None
    except smtplib.SMTPNotSupportedError as e:
        raise MailError(f"SMTP {where}: {safe(e)}") from None
    except smtplib.SMTPResponseException as e:
        text = f"SMTP {where}: {e.smtp_code} {_reply(e.smtp_error)}"
        if 400 <= e.smtp_code < 500:
            raise _Temporary(text) from None
        raise MailError(text) from None
    except ssl.SSLCertVerificationError as e:
        why = safe(e.verify_message)
        raise MailError(f"SMTP {where}: TLS certificate not trusted ({why})") from None
    except ssl.SSLError as e:
        raise MailError(f"SMTP {where}: TLS failed ({safe(e.reason or e)})") from None
    except TimeoutError:
        raise _Temporary(f"SMTP {where}: timed out after {mail.timeout:g} s") from None
    except ConnectionRefusedError:
        raise _Temporary(f"SMTP {where}: connection refused") from None
    except socket.gaierror as e:
        raise MailError(f"SMTP {where}: cannot resolve the host ({safe(e.strerror)})") from None
    except (smtplib.SMTPException, OSError) as e:
        raise _Temporary(f"SMTP {where}: {safe(getattr(e, 'strerror', None) or e)}") from None


def _reply(text: bytes | str) -> str:
    s = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return safe(" ".join(s.split()), 200)


def _sendmail_once(msg: EmailMessage, recipients: Sequence[str], mail: MailSettings) -> Refusals:
    cmd = [mail.sendmail, "-oi", "--", *recipients]
    try:
        done = subprocess.run(
            cmd, input=msg.as_bytes(), capture_output=True, timeout=mail.timeout * 4
        )
    except FileNotFoundError:
        raise MailError(f"{mail.sendmail}: not found (is a local MTA installed?)") from None
    except subprocess.TimeoutExpired:
        raise _Temporary(f"{mail.sendmail}: timed out") from None
    except OSError as e:
        raise MailError(f"{mail.sendmail}: {safe(e.strerror)}") from None
    if done.returncode:
        err = _reply(done.stderr) or f"exit status {done.returncode}"
        # sysexits.h: 75 (EX_TEMPFAIL) is worth another attempt.
        if done.returncode == 75:
            raise _Temporary(f"{mail.sendmail}: {err}")
        raise MailError(f"{mail.sendmail}: {err}")
    return {}


def send(
    msg: EmailMessage,
    recipients: Sequence[str],
    mail: MailSettings,
) -> int:
    """Send, retrying temporary failures (a 4xx refusal of some recipients: those only); the
    number of attempts made. Raises MailError, or Undelivered naming who still needs it."""
    from email.utils import parseaddr

    # Envelope addresses: the bare address of "Name <user@host>" (checked by config).
    everyone = [parseaddr(r)[1] or r for r in recipients]
    once = _sendmail_once if mail.via == "sendmail" else _smtp_once
    wait = BACKOFF_SECONDS
    attempts = mail.retries + 1
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    pending = list(everyone)
    final: Refusals = {}  # refused for good (5xx), or still 4xx after the last attempt
    for n in range(1, attempts + 1):
        try:
            refused = once(msg, pending, mail)
        except _Temporary as e:
            if n == attempts:
                raise _undelivered(f"{e}{tries}", everyone, pending, final) from None
            _sleep(wait)
            wait *= 2
            continue
        except MailError as e:
            if n == 1:
                raise
            # A permanent failure on a retry (554 to DATA, 5xx to MAIL FROM, a login refused):
            # some may have got it on an earlier attempt; the .eml must not mail them twice.
            raise _undelivered(str(e), everyone, pending, final) from None
        later = {r: v for r, v in refused.items() if 400 <= v[0] < 500}
        final.update((r, v) for r, v in refused.items() if r not in later)
        pending = list(later)
        if not later or n == attempts:
            final.update(later)
            if not final:
                return n
            where = f"SMTP {mail.smtp_host}:{mail.port()}"  # sendmail refuses no one alone
            raise _refusal(where, everyone, final, tries if later else "")
        _sleep(wait)
        wait *= 2
    raise AssertionError("unreachable")


def _listed(refusals: Refusals) -> str:
    """``a@x.example (550 5.1.1 no such user), b@...``: the refused, for an error line."""
    return ", ".join(f"{safe(r)} ({c} {m})" for r, (c, m) in refusals.items())


def _refusal(where: str, everyone: Sequence[str], final: Refusals, tries: str) -> Undelivered:
    who = _listed(final)
    if len(final) == len(set(everyone)):
        return Undelivered(f"{where} refused every recipient: {who}{tries}", list(final))
    return Undelivered(f"{where} refused recipients: {who}{tries}; the others got it", list(final))


def _undelivered(
    text: str, everyone: Sequence[str], pending: Sequence[str], final: Refusals
) -> Undelivered:
    """A failure that ends the attempts (temporary on the last one, or permanent on a retry):
    who still needs the message, and what the earlier attempts already settled (recipients
    refused for good, or got it)."""
    still = [r for r in everyone if r in final or r in pending]
    if final:
        text = f"{text}; refused for good: {_listed(final)}"
    if len(still) < len(everyone):
        text = f"{text}; the others got it"
    return Undelivered(text, still)


def deliver(
    msg: EmailMessage,
    recipients: Sequence[str],
    mail: MailSettings,
    command: str,
) -> None:
    """Send; on failure leave the message in the spool folder (or, when that cannot be
    written, a new owner-only folder under $TMPDIR) and raise MailError naming it."""
    try:
        send(msg, recipients, mail)
    except MailError as e:
        folder = mail.spool()
        the_message = "the message"
        if isinstance(e, Undelivered):
            msg, only = _readdressed(msg, recipients, e.pending)
            if only:
                the_message = f"the message, addressed to {only} only,"
        try:
            path = _kept(msg, folder, command)
        except (OSError, OutputError) as w:
            # Nothing a user asked for is lost: the report goes to a folder of its own that
            # no one else can have prepared (mkdtemp: new, 0700), and both places are named.
            import tempfile

            spare: Path | None = None
            try:
                spare = Path(tempfile.mkdtemp(prefix="logaudit-unsent-"))
                path = _kept(msg, spare, command)
            except (OSError, OutputError) as w2:
                if spare is not None:
                    with contextlib.suppress(OSError):
                        spare.rmdir()  # nothing was kept in it
                raise MailError(
                    f"{e}; and {the_message} could not be kept in {folder} ({_why(w)}) "
                    f"nor in a temporary folder ({_why(w2)})"
                ) from None
            raise MailError(
                f"{e}; {folder} could not be written ({_why(w)}): {the_message} was left in "
                f"{path}"
            ) from None
        raise MailError(f"{e}; {the_message} was left in {path}") from None


def _readdressed(
    msg: EmailMessage, recipients: Sequence[str], pending: Sequence[str]
) -> tuple[EmailMessage, str]:
    """``msg`` addressed to the ``pending`` recipients only, when some others got it (sending
    the .eml with ``sendmail -t`` would mail them twice), and whom it names; else (msg, "")."""
    import copy
    from email.utils import parseaddr

    kept = [r for r in recipients if (parseaddr(r)[1] or r) in set(pending)]
    if not kept or len(kept) == len(recipients):
        return msg, ""
    again = copy.deepcopy(msg)
    again.replace_header("To", ", ".join(kept))
    return again, ", ".join(safe(r) for r in kept)


def _why(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) else None) or str(error)


def _kept(msg: EmailMessage, folder: Path, command: str) -> Path:
    """``msg`` written as a new .eml in ``folder``."""
    path = folder / eml_name(command)
    n = 1
    while path.exists():  # two failures in one second keep both messages
        n += 1
        path = path.with_name(f"{eml_name(command)[:-4]}-{n}.eml")
    return write_eml(msg, path)
