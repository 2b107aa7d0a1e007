"""One visitor's clickstream: each visit with its pages, times, referrer and duration.

Selected by client address (``--visitor IP``) and optionally a user-agent substring (``--ua``);
one IP behind which several browsers sit gives one visitor key per user agent, as everywhere.
The partial keeps the selected visitor's page views only, so a search through months of logs
stays small.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from logaudit.analyze.base import Context, Partial, Table
from logaudit.analyze.visits import sessionize
from logaudit.config import Settings, timeout_text
from logaudit.errors import ExitCode, LogauditError
from logaudit.report import Section

# A host name: dotted labels, the last one (the top-level domain) not all digits.
_HOST = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)+"
    r"[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*\.?$"
)


def check_visitor(text: str) -> str:
    """``--visitor``: an IP address as logged, or a host name (a log written with
    HostnameLookups On); anything else is a usage error rather than an empty report."""
    from logaudit.enrich.geo import parse_address

    value = text.strip()
    if parse_address(value) is not None or _HOST.match(value):
        return value
    raise LogauditError(
        f"--visitor: {text!r} is not an IP address or host name (e.g. 81.2.69.142)",
        ExitCode.USAGE,
    )


def t_clickstream(c: pd.DataFrame, s: Settings) -> pd.DataFrame:
    ip = s.extra.get("visitor")
    if not ip:
        return pd.DataFrame()
    m = (c["client"] == ip).to_numpy() & c["is_page"].to_numpy()
    ua = s.extra.get("ua")
    if ua:
        agents = c["agent"].array
        hit = np.asarray([ua.lower() in str(a).lower() for a in agents.categories], dtype=bool)
        m &= hit[np.asarray(agents.codes)]
    sel = c.loc[m]
    return pd.DataFrame(
        {
            "visitor": sel["visitor"].to_numpy(),
            "utc": sel["time"].array.asi8,
            "local": sel["local"].array.asi8,
            "agent": sel["agent"].astype("str").to_numpy(),
            "path": sel["path"].astype("str").to_numpy(),
            "query": sel["query"].astype("str").to_numpy(),
            "referrer": sel["referrer"].astype("str").to_numpy(),
            "status": sel["status"].to_numpy(),
        }
    )


TABLES = {"clickstream": Table("clickstream", t_clickstream, kind="concat")}


def _when(seconds: int) -> str:
    return pd.Timestamp(int(seconds), unit="s").strftime("%Y-%m-%d %H:%M:%S")


def _visits(p: Partial, ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    ev = p.get("clickstream", pd.DataFrame())
    if ev.empty:
        return ev, ev
    ev = ev.sort_values(["visitor", "utc"], kind="stable").reset_index(drop=True)
    events = ev.assign(
        path_h=np.arange(len(ev), dtype=np.uint64), ref_h=np.zeros(len(ev), np.uint64)
    )
    v = sessionize(
        events[["visitor", "utc", "local", "path_h", "ref_h"]], ctx.settings.visit_timeout
    )
    # sessionize sorts by (visitor, utc), which ``ev`` already is: rows line up.
    ev = ev.assign(visit=v.events["visit"].to_numpy())
    # Visits are numbered and listed by their start, whichever user agent made them (the
    # sessions come grouped by visitor key, which would interleave dates).
    start = ev.groupby("visit")["utc"].transform("min")
    ev = ev.assign(_start=start).sort_values(["_start", "visit", "utc"], kind="stable")
    ev["visit"] = pd.factorize(ev["visit"], sort=False)[0] + 1
    return ev.drop(columns="_start").reset_index(drop=True), v.table


def sec_visitor_visits(p: Partial, ctx: Context) -> Section:
    ev, vt = _visits(p, ctx)
    from logaudit.anonymize import client_namer

    # --anonymize: the visitor named as the client columns show it (a host name too).
    title = "Visits of " + client_namer(ctx.settings)(str(ctx.settings.extra.get("visitor", "?")))
    if vt.empty:
        return Section("visitor-visits", title, pd.DataFrame(), note="no page view by this visitor")
    first = ev.groupby("visit").first()
    last = ev.groupby("visit").last()
    rows = pd.DataFrame(
        {
            "visit": first.index.to_numpy(),
            "start": [_when(x) for x in first["local"]],
            "duration_s": (last["utc"] - first["utc"]).to_numpy(),
            "clicks": ev.groupby("visit").size().to_numpy(),
            "entry": first["path"].to_numpy(),
            "exit": last["path"].to_numpy(),
            "referrer": first["referrer"].to_numpy(),
            "user_agent": first["agent"].to_numpy(),
        }
    )
    return Section(
        "visitor-visits",
        title,
        rows,
        len(rows),
        note=f"visit timeout {timeout_text(ctx.settings.visit_timeout)}",
    )


def sec_clickstream(p: Partial, ctx: Context) -> Section:
    ev, _ = _visits(p, ctx)
    title = "Clickstream"
    if ev.empty:
        return Section("clickstream", title, pd.DataFrame())
    page = ev["path"] + np.where(ev["query"] != "", "?" + ev["query"], "")
    rows = pd.DataFrame(
        {
            "visit": ev["visit"].to_numpy(),
            "time": [_when(x) for x in ev["local"]],
            "page": page.to_numpy(),
            "status": ev["status"].to_numpy(),
            "referrer": ev["referrer"].to_numpy(),
        }
    )
    return Section("clickstream", title, rows, len(rows), note="page views in time order")
