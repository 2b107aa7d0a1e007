"""The cyclic garbage collector around start-up: no pass while the data stack is imported.

Importing pandas, pyarrow, numpy and the section modules makes some 10^5 long-lived objects
(functions, classes, dicts). ``cli.main`` collects the young generation only every 100,000
new objects, so the imports trigger one pass over nearly all of them, which finds almost
nothing (a 150,000-line summary: one pass, 19 ms on a quiet core, 478 objects freed; it
showed up in ``python -X importtime`` as 18 ms of ``analyze.problems``, the module being
imported when it fell). ``data_stack`` imports the library with the collector off, then
freezes what the imports made (``gc.freeze``: later passes skip it, as for the objects
``cli.main`` froze) and turns the collector back on. Memory is unchanged: reference counting
frees everything but cycles, and an import leaves few of those behind.
"""

from __future__ import annotations

import gc
from collections.abc import Callable


def data_stack(between: Callable[[], None] | None = None) -> None:
    """Import ``logaudit.api`` (and with it pandas, pyarrow, numpy and every section module)
    with no collector pass; a no-op once it is imported. The report commands and
    ``records`` call it (``cli._settings``) before anything else imports pandas.

    ``between``: called after numpy, pyarrow and the agents classifier's module (pandas-free,
    ``PANDAS_FREE``) are imported and before pandas is, with the collector as the caller had
    it (or at once when the stack is already imported). The CLI forks the agents helper
    there, so that the helper inherits those modules instead of importing them again
    (``enrich/agentproc.py``)."""
    import sys

    if "logaudit.api" in sys.modules:
        if between is not None:
            between()
        return
    if between is not None:
        _imported(PANDAS_FREE)
        between()
    _imported(("logaudit.api",))


# What the agents helper uses of the data stack (``enrich/agentproc.py``): no pandas.
PANDAS_FREE = ("numpy", "pyarrow", "pyarrow.compute", "logaudit.enrich.agents")


def _imported(names: tuple[str, ...]) -> None:
    import importlib

    was = gc.isenabled()
    gc.disable()
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        gc.freeze()
        if was:
            gc.enable()
