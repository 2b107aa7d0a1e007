"""The ``change`` section: the last complete period against the one before and a week earlier."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from logaudit.analyze import periods as per
from logaudit.analyze.base import Context, Partial
from logaudit.analyze.trends.series import _PER, CHANGE_METRICS, Trend, _empty, trend_of
from logaudit.report import Section


def change_text(now: float, before: float) -> tuple[float | None, str]:
    """(percentage, 'arrow +12.3%'); percentage None when ``before`` is 0. No change (to the
    tenth of a percent) reads "≈ 0.0%": a leading "=" made the CSV guard quote the tool's own
    text ("'= +0.0%")."""
    if before == 0:
        return (None, "▲ new") if now > 0 else (0.0, "≈ 0.0%")
    pct = round((now - before) / before * 100, 1)
    if pct == 0:
        return 0.0, "≈ 0.0%"
    return pct, f"{'▲' if pct > 0 else '▼'} {pct:+.1f}%"


def _week_back(t: Trend, i: int) -> int | None:
    if t.every not in ("hour", "day"):
        return None
    target = t.wall_start[i] - 7 * per.DAY
    hit = np.flatnonzero(t.wall_start == target)
    if not len(hit) or not t.complete[hit[0]]:
        return None
    return int(hit[0])


def sec_change(p: Partial, ctx: Context) -> Section:
    title = "Change"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("change", title)
    last = t.last_complete()
    if last is None or last == 0 or not t.complete[last - 1]:
        return _empty("change", title, "needs two complete periods in a row")
    prev = last - 1
    week = _week_back(t, last)
    rows = []
    for m in CHANGE_METRICS:
        if not t.present(m):
            continue
        now, before = _figure(t, m, last), _figure(t, m, prev)
        if now is None:  # no response time logged in the last period
            continue
        exact_now = _exact(t, m, last, now)
        pct, text = (
            change_text(exact_now, _exact(t, m, prev, before)) if before is not None else (None, "")
        )
        row: dict[str, object] = {
            "metric": m,
            "last": now,
            "previous": before,
            "change_pct": pct,
            "change": text,
        }
        if t.every in ("hour", "day"):
            ago = _figure(t, m, week) if week is not None else None
            wpct, wtext = (
                change_text(exact_now, _exact(t, m, week, ago))
                if week is not None and ago is not None
                else (None, "")
            )
            row.update(week_before=ago, week_change_pct=wpct, week_change=wtext)
        rows.append(row)
    frame = pd.DataFrame(rows, dtype=object)
    note = f"{t.labels[last]} against {t.labels[prev]}"
    if t.every in ("hour", "day"):
        note += (
            f" and {t.labels[week]} (a week earlier)"
            if week is not None
            else ("; no complete period a week earlier in the data")
        )
    timed = any(str(m).startswith("response_") for m in frame.get("metric", ()))
    old = t.old_days_note(i for i in (last, prev, week) if i is not None) if timed else ""
    note = "; ".join(x for x in (note, old) if x)
    return Section(
        "change",
        f"Change: last complete {_PER[t.every]}",
        frame,
        len(frame),
        note=note,
        headline={
            "period": t.labels[last],
            "start": t.starts[last],
            "previous": t.labels[prev],
            "week_before": t.labels[week] if week is not None else None,
        },
        narrow_drop=("change_pct", "week_change_pct"),
    )


def _figure(t: Trend, metric: str, i: int) -> int | float | None:
    """One period's figure as a Python number; None where there is none (NaN)."""
    v = t.values[metric].iloc[i].item()
    return None if isinstance(v, float) and math.isnan(v) else v


def _exact(t: Trend, metric: str, i: int, shown: int | float) -> float:
    """The figure a change is computed from: a ratio's value before its display rounding
    (0.0114 against 0.0095 read +20.0% where the counts' rates give +20.1%)."""
    exact = t.exact.get(metric)
    return shown if exact is None else float(exact[i])
