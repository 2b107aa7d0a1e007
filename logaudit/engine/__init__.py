"""Who computes the partial tables: ``local`` (this machine: reading threads, ``--jobs``
processes; ``engine/local.py``) or ``dask`` (a Dask cluster; ``engine/dask.py``).

Both take the same inputs, settings and tables and return the same ``Run``; the client builds
the sections from it as before, so a report does not depend on the engine that computed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from logaudit.analyze.base import Table
from logaudit.config import Settings
from logaudit.engine.local import run as local_run
from logaudit.enrich.classify import Enricher
from logaudit.errors import ConfigError
from logaudit.result import Run
from logaudit.sources import Input

ENGINES: dict[str, str] = {
    "local": "this machine: reading threads, or --jobs worker processes",
    "dask": "a Dask cluster (--scheduler, LOGAUDIT_DASK_SCHEDULER), or a LocalCluster",
}


def run(
    inputs: list[Input],
    settings: Settings,
    tables: Mapping[str, Table],
    on_progress: Callable[[int], None] | None = None,
    enricher: Enricher | None = None,
) -> Run:
    """``engine.local.run`` on the engine the settings name."""
    if settings.engine == "local":
        return local_run(inputs, settings, tables, on_progress=on_progress, enricher=enricher)
    if settings.engine == "dask":
        from logaudit.remote import require

        require("distributed", "dask", "--engine dask")
        from logaudit.engine import dask

        return dask.run(inputs, settings, tables, on_progress=on_progress)
    known = ", ".join(ENGINES)
    from logaudit.config import written

    where = settings.origins.get("engine", "default")
    raise ConfigError(
        f"{where}: engine = {written(settings.engine)}: not an engine (known: {known})"
    )
