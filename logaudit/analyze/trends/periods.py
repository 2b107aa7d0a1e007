"""The ``periods`` section: one row per hour, day, week or month."""

from __future__ import annotations

import pandas as pd

from logaudit.analyze.base import Context, Partial
from logaudit.analyze.trends.series import _PER, DEFAULT_CHART, Trend, _empty, trend_of
from logaudit.config import Settings
from logaudit.report import Section

# ---- sections -----------------------------------------------------------------------------


def chosen_metrics(t: Trend, s: Settings) -> tuple[list[str], list[str]]:
    """(metrics to chart, those asked for that this log cannot give)."""
    asked = tuple(s.extra.get("metrics") or ()) or DEFAULT_CHART
    return [m for m in asked if t.present(m)], [m for m in asked if not t.present(m)]


def sec_periods(p: Partial, ctx: Context) -> Section:
    title = "Traffic per period"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("periods", title)
    title = f"Traffic per {_PER[t.every]}"
    flagged = t.unusual.groupby("pos")["metric"].agg(", ".join) if len(t.unusual) else None
    rows = pd.DataFrame({"period": t.labels, "start": t.starts})
    rows = pd.concat([rows, t.values], axis=1)
    rows["complete"] = t.complete
    rows["unusual"] = (
        flagged.reindex(range(len(rows)), fill_value="").to_numpy() if flagged is not None else ""
    )
    charted, missing = chosen_metrics(t, ctx.settings)
    notes = [
        f"visitors: distinct (IP, user agent) per {_PER[t.every]}, 4xx hits left out",
        "empty periods are zeros" + (" (but a gap's, said below)" if t.gap.any() else ""),
    ]
    if t.why:  # the first, the last, and those around a gap, each with its shortfall
        notes.append("partial: " + ", ".join(dict.fromkeys(t.why.values())))
    if missing:
        notes.append("not in this log: " + ", ".join(missing))
    notes.extend(t.notes)
    notes.append(t.old_days_note(range(len(rows))))
    return Section(
        "periods",
        title,
        rows,
        len(rows),
        note="; ".join(x for x in notes if x),
        chart=charted[0] if charted else None,
        headline={
            "every": t.every,
            "periods": len(rows),
            "first": t.starts[0],
            "last": t.starts[-1],
            "complete_last": bool(t.complete[-1]),
        },
        sparklines={m: [float(x) for x in t.values[m]] for m in charted},
        narrow_drop=(
            "start",
            "clicks_per_visit",
            "rate_4xx",
            "rate_5xx",
            "response_p50_ms",
            "status_4xx",
            "complete",
            "bandwidth",
        ),
    )
