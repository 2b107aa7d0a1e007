"""Report and Section: what every renderer reads. Renderers never aggregate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Section:
    """One panel: a title, a tidy table (one row per item), and what to draw."""

    name: str
    title: str
    rows: pd.DataFrame
    total_rows: int = 0  # rows before --top cut the table
    note: str = ""
    # Column drawn as a bar chart beside the table (terminal, HTML); None for no chart.
    chart: str | None = None
    # Headline figures of the section (JSON: "headline"), e.g. visits' mean clicks.
    headline: dict[str, Any] = field(default_factory=dict)
    # Series drawn as one sparkline each above the table (terminal): label -> values.
    sparklines: dict[str, list[float]] = field(default_factory=dict)
    # Columns a narrow terminal may leave out, least needed first (JSON and CSV keep all).
    narrow_drop: tuple[str, ...] = ()


@dataclass
class Report:
    command: str
    overview: dict[str, Any]
    sections: list[Section]
    inputs: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: dict[str, Any] = field(default_factory=dict)
    # Loud, one-line warnings (bad-line share over 10 %, truncated input, missing GeoIP...).
    warnings: list[str] = field(default_factory=list)
    # Quiet, one-line notes (how a figure was computed, what is not available).
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    # The sections the command asked for (its defaults or --section), each whether or not it
    # is in ``sections`` (an empty vhosts is left out): what a CSV's shape follows
    # (render.tabular.one_table). Not rendered.
    asked: tuple[str, ...] = ()
