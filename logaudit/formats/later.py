"""A module imported on first use: ``np = Later("numpy")``, then ``np.frombuffer(...)``.

The format registry (``logaudit.formats``) is read by `logaudit formats`, `--help` and config
checks, which must not import numpy and pyarrow (0.3 s; issue #18), while the readers next to
it use them on every block. A reader module binds its names to ``Later`` at run time (and to
the real modules for type checkers, under ``TYPE_CHECKING``), so its functions stay as written.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class Later:
    """Stands in for the module ``name`` until an attribute is read, then imports it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr in ("_name", "_module"):  # not set yet (a copy being made): no recursion
            raise AttributeError(attr)
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"
