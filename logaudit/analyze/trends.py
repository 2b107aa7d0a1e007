"""Trends: traffic per hour, day, week or month; what changed; what moved; what is unusual.

(Skeleton: the contract the rest of the program relies on. Filled in by the trends work.)
"""

from __future__ import annotations

from logaudit.analyze.base import SectionSpec, Table

# Period lengths --every accepts; "auto" picks from the span.
EVERY: tuple[str, ...] = ("auto", "hour", "day", "week", "month")

# --metric choices: name -> meaning (the column of the `periods` section).
METRICS: dict[str, str] = {
    "hits": "requests",
    "page_views": "page views (people)",
    "visitors": "distinct visitors in the period",
    "bandwidth": "response bytes",
}

TABLES: dict[str, Table] = {}

SECTIONS: tuple[SectionSpec, ...] = ()
