"""Whether a report is read by this process alone (one job, the local engine, no history
store): the runs that the start-up head starts (``prefetch``, ``enrich.agentproc``) can
help. One predicate for the options (before the settings are loaded) and one for the
loaded settings, so that both head starts agree.

``stored``: a history store is no obstacle. The agents helper serves a stored run too (its
new lines are read by this process, from their offset); reading ahead from a log's first
byte does not (``prefetch``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logaudit.config import Settings

# Options that spread the reading over processes or keep it for later runs.
SPREADING = ("jobs", "engine", "state")


def by_options(overrides: Mapping[str, Any], stored: bool = False) -> bool:
    """False when an option given on the command line already rules it out."""
    return not any(overrides.get(k) for k in SPREADING if not (stored and k == "state"))


def by_settings(settings: Settings, stored: bool = False) -> bool:
    """The same, once the configuration file and environment are read too."""
    return (
        settings.engine == "local"
        and (settings.jobs or 1) <= 1
        and (stored or settings.state is None)
    )
