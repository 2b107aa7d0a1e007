"""The local engine moved to ``logaudit.engine.local`` (beside ``engine/dask.py``). This name
stays the same module object, so ``from logaudit.pipeline import run``, ``import
logaudit.pipeline`` and monkeypatching its attributes (tests) keep reaching the code that runs."""

import sys

from logaudit.engine import local

sys.modules[__name__] = local
