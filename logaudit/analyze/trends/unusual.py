"""Unusual periods: complete periods far from their recent baseline (robust z-scores)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from logaudit.analyze.base import Context, Partial
from logaudit.analyze.trends.series import METRICS, _empty, _num, trend_of
from logaudit.report import Section
from logaudit.wording import counted

# every -> how many periods before a period form its baseline (all must be complete)
BASELINE: dict[str, int] = {"hour": 24, "day": 7, "week": 4, "month": 6}
Z_LIMIT = 3.5
MAD_TO_SIGMA = 1.4826
IQR_TO_SIGMA = 1 / 1.349
SCALE_FLOOR_SHARE = 0.05
COUNT_METRICS = frozenset({"hits", "page_views", "visitors", "visits", "status_4xx", "status_5xx"})
UNUSUAL_FLOORS: dict[str, float] = {
    "hits": 20,
    "page_views": 20,
    "visitors": 20,
    "visits": 20,
    "bandwidth": 1 << 20,
    "status_4xx": 20,
    "status_5xx": 20,
    "response_p95_ms": 100,
}


def _baselines(complete: np.ndarray, every: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(back, valid, checked): per period the positions of the BASELINE periods before it,
    which of them exist and are complete, and whether the period is checked at all (it and
    all of them complete)."""
    k = BASELINE[every]
    back = np.arange(len(complete))[:, None] - np.arange(1, k + 1)[None, :]
    valid = back >= 0
    valid[valid] = complete[back[valid]]
    return back, valid, complete & valid.all(axis=1)


def _most_before(complete: np.ndarray) -> int:
    """The most complete periods in a row just before a complete period."""
    most = run = 0
    for c in complete.tolist():  # one per period, not per line
        run = run + 1 if c else 0
        most = max(most, run)
    return max(most - 1, 0)


def _unusual(v: pd.DataFrame, complete: np.ndarray, every: str) -> pd.DataFrame:
    """Rows (pos, metric, value, baseline_median, z) of the flagged periods."""
    back, valid, checked = _baselines(complete, every)
    rows = []
    for metric, floor in UNUSUAL_FLOORS.items():
        if metric not in v or not checked.any():
            continue
        x = v[metric].to_numpy(np.float64)
        base = np.where(valid & checked[:, None], x[np.clip(back, 0, None)], np.nan)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are not checked
            med = np.nanmedian(base, axis=1)
            mad = np.nanmedian(np.abs(base - med[:, None]), axis=1)
            q1, q3 = np.nanpercentile(base, [25, 75], axis=1)
            spread = np.fmax(MAD_TO_SIGMA * mad, IQR_TO_SIGMA * (q3 - q1))
            scale = np.fmax(spread, SCALE_FLOOR_SHARE * np.abs(med))
            if metric in COUNT_METRICS:
                scale = np.fmax(scale, np.fmax(np.sqrt(np.abs(med)), 1.0))
            # A baseline of zeros (median 0, no spread) has no scale to measure against: no z
            # (a floor would invent one: value / 1e-9, or the count itself). Such a period is
            # flagged by the floor alone (500 errors after none), its z shown as none.
            flat = (med == 0) & (spread == 0)
            z = np.where(flat, np.nan, (x - med) / np.where(scale > 0, scale, 1.0))
        far = np.abs(x - med) >= floor
        flag = checked & ~np.isnan(x) & far & (flat | (np.abs(z) > Z_LIMIT))
        for j in np.flatnonzero(flag):
            rows.append(
                {
                    "pos": int(j),
                    "metric": metric,
                    "value": _num(x[j], metric),
                    "baseline_median": _num(med[j], metric),
                    "z": None if flat[j] else round(float(z[j]), 1),
                }
            )
    order = {m: k for k, m in enumerate(METRICS)}
    rows.sort(key=lambda r: (r["pos"], order[str(r["metric"])]))
    # Object columns keep counts as integers next to fractional medians and times.
    # z stays an object column: None where the baseline gives none (JSON null, text "-").
    return pd.DataFrame(
        rows, columns=["pos", "metric", "value", "baseline_median", "z"], dtype=object
    ).astype({"pos": np.int64})


def sec_unusual(p: Partial, ctx: Context) -> Section:
    title = "Unusual periods"
    t = trend_of(p, ctx)
    if t is None:
        return _empty("unusual", title)
    k = BASELINE[t.every]
    checked = int(_baselines(t.complete, t.every)[2].sum())
    n = len(t.complete)
    # JSON: whether anything could be checked, and against how much history.
    head = {
        "checked": checked > 0,
        "periods_checked": checked,
        "periods": n,
        "baseline_periods": k,
    }
    if not checked:
        most = _most_before(t.complete)
        note = (
            f"not checked: each {t.every} needs the {counted(k, f'complete {t.every}')} before it, "
            f"and this report has at most {counted(most, f'complete {t.every}')} before one"
        )
        return Section("unusual", title, pd.DataFrame(), note=note, headline=head)
    note = (
        f"{checked} of {n} {t.every}s checked; baseline: the previous {k} {t.every}s, all "
        f"complete; flagged when |z| > {Z_LIMIT} and far enough from the median"
    )
    if len(t.unusual) and t.unusual["z"].isna().any():
        note += (
            "; z -: the baseline is all zeros (no spread to measure a z against; flagged on "
            "the floor alone)"
        )
    u = t.unusual
    if u.empty:
        return Section("unusual", title, pd.DataFrame(), note="none; " + note, headline=head)
    pos = u["pos"].to_numpy()
    timed = u["metric"].astype(str).str.startswith("response_").to_numpy()
    # A response row shows its period's reading and its baseline's median: the note when
    # either reads an older store day (all of a flagged period's baseline periods exist).
    back = _baselines(t.complete, t.every)[0][pos[timed]]
    read = np.concatenate([pos[timed], back.ravel()])
    note = "; ".join(x for x in (note, t.old_days_note(read)) if x)
    rows = pd.DataFrame(
        {
            "period": [t.labels[i] for i in pos],
            "start": [t.starts[i] for i in pos],
            "metric": u["metric"].to_numpy(),
            "value": u["value"].to_numpy(),
            "baseline_median": u["baseline_median"].to_numpy(),
            "z": u["z"].to_numpy(),
        }
    )
    return Section(
        "unusual", title, rows, len(rows), note=note, headline=head, narrow_drop=("start",)
    )
