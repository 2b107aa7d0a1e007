"""``logaudit watch``: a live view of one or more logs, refreshed every few seconds.

The logs are followed as ``records --follow`` follows them (``follow.Tail``: rotation and
truncation survived). The rows of the last hour are kept (time, status, path, referrer, client,
response time); every refresh computes, for the last 5 minutes and the last hour, requests per
second, the 5xx rate, the p95 response time (when logged), and the top pages, referrers,
clients and status codes. Windows end at the newest request seen, so a replayed or quiet log
still shows its last hour. ``render/live.py`` draws it (rich, full screen, ``q`` quits); on a
non-terminal one summary line per refresh is printed instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from logaudit.config import Settings
from logaudit.enrich.classify import Enricher
from logaudit.follow import Tail, drop
from logaudit.parse import BadLines
from logaudit.sources import InputProblem

WINDOWS = (("last 5 minutes", 300), ("last hour", 3600))
KEEP = 3600
# At start, up to this many bytes before a log's end are read, to fill the last hour.
BACKLOG_BYTES = 32 * 1024 * 1024
TOP = 8


@dataclass
class Figures:
    title: str
    seconds: int
    requests: int = 0
    per_second: float = 0.0
    rate_5xx: float = 0.0
    p95: float | None = None
    top: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def line(self) -> str:
        p95 = f" p95 {self.p95:.3f}s" if self.p95 is not None else ""
        return (
            f"{self.title}: {self.requests:,} req {self.per_second:.2f}/s "
            f"5xx {self.rate_5xx:.1%}{p95}"
        )


class Window:
    """The rows of the last hour, as columns."""

    COLUMNS = ("utc", "status", "path", "referrer", "client", "response_time")

    def __init__(self) -> None:
        self.rows = pd.DataFrame({c: [] for c in self.COLUMNS})

    def add(self, chunk: pd.DataFrame) -> None:
        if not len(chunk):
            return
        new = pd.DataFrame(
            {
                "utc": chunk["time"]
                .dt.tz_convert("UTC")
                .dt.tz_localize(None)
                .to_numpy()
                .astype("datetime64[s]")
                .astype(np.int64),
                "status": chunk["status"].to_numpy(),
                "path": chunk["path"].astype(str).to_numpy(),
                "referrer": chunk["referrer"].astype(str).to_numpy() if "referrer" in chunk else "",
                "client": chunk["client"].astype(str).to_numpy(),
                "response_time": chunk["response_time"].to_numpy()
                if "response_time" in chunk
                else np.nan,
            }
        )
        both = pd.concat([self.rows, new], ignore_index=True) if len(self.rows) else new
        end = int(both["utc"].max())
        self.rows = both[both["utc"].to_numpy() > end - KEEP].reset_index(drop=True)

    def figures(self) -> list[Figures]:
        out = []
        rows = self.rows
        end = int(rows["utc"].max()) if len(rows) else 0
        for title, seconds in WINDOWS:
            f = Figures(title, seconds)
            r = rows[rows["utc"].to_numpy() > end - seconds] if len(rows) else rows
            f.requests = len(r)
            if len(r):
                status = r["status"].to_numpy().astype(int)
                f.per_second = len(r) / seconds
                f.rate_5xx = float(((status >= 500) & (status < 600)).mean())
                rt = r["response_time"].to_numpy(dtype=float)
                rt = rt[~np.isnan(rt)]
                f.p95 = float(np.quantile(rt, 0.95)) if len(rt) else None
                ref = r["referrer"]
                f.top = {
                    "pages": _top(r["path"]),
                    "referrers": _top(ref[~ref.isin(["-", ""])]),
                    "clients": _top(r["client"]),
                    "status": _top(r["status"].astype(int).astype(str)),
                }
            out.append(f)
        return out


def _top(values: pd.Series) -> list[tuple[str, int]]:
    counts = values.value_counts(sort=True)
    return [(str(k), int(v)) for k, v in counts.head(TOP).items()]


class Watcher:
    """Followed logs -> a Window, one poll at a time."""

    def __init__(
        self, paths: list[Path], settings: Settings, found_in: Mapping[Path, str] | None = None
    ) -> None:
        self.tails = [
            Tail(p, from_start=True, found_in=(found_in or {}).get(p), numbered=False)
            for p in paths
        ]
        self.notes: list[str] = []
        for t in list(self.tails):
            t._open(at_end=False)
            if t.f is not None:
                size = t.f.seek(0, 2)
                start = max(0, size - BACKLOG_BYTES)
                t.f.seek(start)
                if start:
                    t.f.readline()  # to the next line start
                t.start_at(t.f.tell())  # polls read on from here, not from the file's start
                # The format from the log's head (a W3C header is cut off by the backlog).
                skipped = t.detect_now(settings, upto=t.f.tell())
                if skipped is not None:  # a folder's error.log: said once, not followed
                    t.f.close()
                    drop(self.tails, t, skipped)
                    self.notes.append(str(skipped))
        self.settings = settings
        self.enricher = Enricher(settings)
        self.window = Window()
        self.bad = BadLines()

    def poll(self) -> None:
        for t in list(self.tails):
            data = t.poll()
            self.notes.extend(t.notes)
            t.notes.clear()
            if not data:
                continue
            chunk = t.rows(data, self.settings, self.enricher, self.bad)
            if isinstance(chunk, InputProblem):  # a folder's error.log: said once, not followed
                drop(self.tails, t, chunk)
                self.notes.append(str(chunk))
                continue
            self.window.add(chunk)


def lines(
    watcher: Watcher,
    out: TextIO,
    interval: float,
    stop: Callable[[], bool],
    sleep: Callable[[float], None],
) -> None:
    """Without a terminal: one line per refresh."""
    import time

    while not stop():
        watcher.poll()
        for n in watcher.notes:
            out.write(f"# {n}\n")
        watcher.notes.clear()
        figs = watcher.window.figures()
        stamp = time.strftime("%H:%M:%S")
        out.write(stamp + " " + " | ".join(f.line() for f in figs) + "\n")
        out.flush()
        sleep(interval)
