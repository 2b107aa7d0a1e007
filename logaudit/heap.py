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


def data_stack() -> None:
    """Import ``logaudit.api`` (and with it pandas, pyarrow, numpy and every section module)
    with no collector pass; a no-op once it is imported. The report commands and
    ``records`` call it (``cli._settings``) before anything else imports pandas."""
    import sys

    if "logaudit.api" in sys.modules:
        return
    was = gc.isenabled()
    gc.disable()
    try:
        import logaudit.api  # noqa: F401 - imported for its modules
    finally:
        gc.freeze()
        if was:
            gc.enable()
