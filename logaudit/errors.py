"""Exit codes and the domain errors that map onto them.

Exit codes are part of the command-line interface: scripts and cron jobs branch on them, so a
code never changes meaning once released.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # Unexpected internal error (a bug): the only case that may show a traceback, with --debug.
    ERROR = 1
    # Wrong command-line usage (Click's own code).
    USAGE = 2
    # An input could not be opened: missing, a directory without logs, unreadable.
    INPUT_MISSING = 3
    # An input was read but is not a log we understand: binary, empty, unknown format.
    INPUT_INVALID = 4
    # An input was cut short (truncated .gz/.bz2/.xz); what could be read was reported.
    INPUT_TRUNCATED = 5
    # --strict was given and at least one line did not parse or a run of NUL bytes was skipped;
    # the report was still written.
    BAD_LINES = 6
    # A configuration value, GeoIP database or option value is wrong.
    CONFIG = 7
    # Nothing matched: no hit within --since/--until or the chosen filters.
    NO_DATA = 8
    # The output file could not be written (missing folder, no permission, disk full).
    OUTPUT = 9
    # A --max-... threshold of `logaudit problems` was breached; the report was written.
    THRESHOLD = 10
    # The report was made but the mail could not be sent (refused, timeout, authentication,
    # TLS, a rejected recipient); the message was left on disk and its path printed.
    MAIL = 11
    # `logaudit privacy` found personal data in the logs; the report was written.
    PERSONAL_DATA = 12
    # --state: another run holds the history store's lock (give --wait to wait for it).
    STORE_BUSY = 13


class LogauditError(Exception):
    """An error a user can act on: printed as one line, never as a traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputMissingError(LogauditError):
    exit_code = ExitCode.INPUT_MISSING


class InputInvalidError(LogauditError):
    exit_code = ExitCode.INPUT_INVALID


class ConfigError(LogauditError):
    exit_code = ExitCode.CONFIG


class MailError(LogauditError):
    exit_code = ExitCode.MAIL
