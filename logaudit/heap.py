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

``data_stack`` also imports ``pyarrow.compute`` first (``_arrow_compute``): at import it writes
a docstring for each of its ~290 functions, parsing the numpydoc of the function's options
class each time (``pyarrow.vendored.docscrape``: 109 parses of 57 texts) and dedenting the
same few texts (927 calls, 283 texts). Both are pure functions of their text, so they are
memoised while it imports: the same docstrings (checked), ~6-7 ms less of every report's
start, on its critical path (issue #18).
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
        _arrow_compute()
        import logaudit.api  # noqa: F401 - imported for its modules
    finally:
        gc.freeze()
        if was:
            gc.enable()


def _arrow_compute() -> None:
    """Import ``pyarrow.compute`` with its docstring helpers memoised (see the module
    docstring); as usual where they are not where this pyarrow keeps them."""
    import sys

    if "pyarrow.compute" in sys.modules:
        return
    import functools
    import textwrap

    try:
        from pyarrow.vendored import docscrape
    except ImportError:
        import pyarrow.compute  # noqa: F401 - a pyarrow without them
        return
    parse, dedent = docscrape.NumpyDocString, textwrap.dedent
    docscrape.NumpyDocString = functools.lru_cache(maxsize=None)(parse)
    textwrap.dedent = functools.lru_cache(maxsize=None)(dedent)
    try:
        import pyarrow.compute as pc
    finally:
        docscrape.NumpyDocString = parse
        textwrap.dedent = dedent
    if getattr(pc, "dedent", None) is not None:
        pc.dedent = dedent  # bound by its ``from textwrap import dedent``
