"""A log written in stages as a web server and logrotate would, for the history store's tests."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

from logaudit import api
from logaudit.analyze import SECTIONS
from logaudit.config import load
from logaudit.render.tabular import as_dict
from logaudit.samplegen import generate_lines

# Every section but one visitor's clickstream (it needs --visitor).
ALL = tuple(n for n in SECTIONS if n not in ("visitor-visits", "clickstream"))
# Every row (top 0): rows tied at a top-N cut are chosen by address, which the store keys.
BASE: dict[str, Any] = {
    "extra": {"every": "auto", "metrics": ()},
    "goals": ("/order/complete",),
    "top": 0,
}


def state_json(state: Path) -> dict[str, Any]:
    """The store's ``store.json`` as written."""
    from logaudit.store.layout import STATE_FILE

    raw: dict[str, Any] = json.loads((state / STATE_FILE).read_text())
    return raw


def log_bytes(n: int = 6000, days: int = 3, bad: int = 6) -> bytes:
    return b"".join(generate_lines(n, days=days, bad_lines=bad))


# A client as logged (IPv4, IPv6) or as the store keeps it (a keyed token).
CLIENT = re.compile(
    r"h:[0-9a-f]{16}|\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b"
)


def figures(outcome: api.Outcome) -> dict[str, Any]:
    """The report's figures: overview and sections, without what describes the reading.
    Client addresses become one placeholder (the store holds keyed tokens, docs/store.md), and
    a section that shows them is compared as a set of rows (ties were ordered by address)."""
    assert outcome.report is not None, outcome.messages
    d = as_dict(outcome.report)
    ov = dict(d["overview"])
    ov.pop("bad_lines", None)
    out: dict[str, Any] = {"overview": ov}
    for s in d["sections"]:
        rows = [json.dumps(r, sort_keys=True) for r in s["rows"]]
        named = [
            {k: "<client>" if k in ("client", "ip") else v for k, v in r.items()} for r in s["rows"]
        ]
        if named != s["rows"]:
            rows = [json.dumps(r, sort_keys=True) + " " for r in named]
        masked = [CLIENT.sub("<client>", r) for r in rows]
        out[s["name"]] = {
            **{k: v for k, v in s.items() if k != "rows"},
            "rows": sorted(masked) if masked != rows else rows,
        }
    return out


def report(args: list[str], state: Path | None = None, **more: Any) -> api.Outcome:
    settings = load({**BASE, **more, "state": state}, env={})
    return api.report("summary", args, settings, ALL)


class Server:
    """Writes ``data`` into ``folder/access.log`` in pieces, rotating like logrotate with
    delaycompress (access.log -> .1 -> .2.gz)."""

    def __init__(self, folder: Path, data: bytes) -> None:
        self.folder = folder
        self.data = data
        self.pos = 0
        folder.mkdir(parents=True, exist_ok=True)

    def write_to(self, end: int) -> None:
        with open(self.folder / "access.log", "ab") as f:
            f.write(self.data[self.pos : end])
        self.pos = end

    def rotate(self) -> None:
        # A server writes whole lines: the line being written is finished before the rename.
        if self.pos and self.data[self.pos - 1 : self.pos] != b"\n":
            self.write_to(self.data.index(b"\n", self.pos) + 1)
        f = self.folder
        for age in range(8, 0, -1):
            src = f / (f"access.log.{age}" + (".gz" if age > 1 else ""))
            if not src.exists():
                continue
            if age == 1:
                with open(src, "rb") as a, gzip.open(f / "access.log.2.gz", "wb") as b:
                    b.write(a.read())
                src.unlink()
            else:
                os.replace(src, f / f"access.log.{age + 1}.gz")
        os.replace(f / "access.log", f / "access.log.1")
        (f / "access.log").touch()

    def glob(self) -> list[str]:
        return [str(self.folder / "access.log*")]


def grown_store(
    tmp: Path, data: bytes, fractions: tuple[float, ...], run: Any
) -> tuple[Path, Path]:
    """A store grown by one ``run(paths, state)`` per fraction of ``data`` written (the log
    rotated after the first), and the whole log written so far, for the one-pass run."""
    server = Server(tmp / "logs", data)
    state = tmp / "state"
    end = 0
    for i, frac in enumerate(fractions):
        end = data.index(b"\n", int(len(data) * frac)) + 1
        server.write_to(end)
        run(server.glob(), state)
        if i == 0:
            server.rotate()
    whole = tmp / "whole.log"
    whole.write_bytes(data[:end])
    return state, whole


TRENDS = ("periods", "change", "unusual")


def trends(
    args: list[str], state: Path | None = None, sections: tuple[str, ...] = TRENDS, **more: Any
) -> api.Outcome:
    """``trends`` with the store tests' settings, only the given sections."""
    extra = {**BASE["extra"], **more.pop("extra", {})}
    settings = load({**BASE, **more, "extra": extra, "state": state}, env={})
    return api.report("trends", args, settings, sections)

