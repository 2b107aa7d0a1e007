"""A headless Chromium driven over the DevTools protocol (``--remote-debugging-pipe``), with the
network blocked, for the HTML report's browser test and the README's screenshot.

Chromium reads commands on fd 3 and answers on fd 4 (JSON messages ending in NUL). Nothing here
runs JavaScript in the page: layout is read through the DOM domain (``DOM.getBoxModel``), styles
through the CSS domain, so a script event (``Debugger.scriptParsed``) can only come from the page.

    python tests/chromium.py report.html docs/report.png [HEIGHT]  # 1100 px wide
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def find() -> str | None:
    for c in CANDIDATES:
        path = shutil.which(c)
        if path:
            return path
    return None


Box = tuple[float, float, float, float]


@dataclass
class Visit:
    """What happened while a page loaded."""

    requests: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    boxes: list[tuple[float, float]] = field(default_factory=list)  # each chart's size
    # each coloured cell of a chart drawn as a table (mail): (width, height)
    bars: list[tuple[float, float]] = field(default_factory=list)
    # and its colour: (its bgcolor attribute, the background-color it is drawn with)
    bar_colours: list[tuple[str, str]] = field(default_factory=list)
    rows: list[float] = field(default_factory=list)  # each table row's height (px)
    # Per column chart (svg.chart.columns): its box and each text's box, (left, top, right,
    # bottom) in page pixels, with the text: a caption or label cut by the drawing's edge, or
    # two labels over each other, shows here (QA23 F2, F9).
    texts: list[tuple[Box, list[tuple[str, Box]]]] = field(default_factory=list)
    screenshot: bytes = b""
    pdf: bytes = b""
    background: str = ""
    background_dark: str = ""


class Browser:
    def __init__(self, binary: str, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()

        def fds() -> None:
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)

        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--mute-audio",
            # The network is blocked twice: no name resolves, and every request goes to a
            # proxy on a closed port. A request is still *attempted*, so the test sees it.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,  # noqa: PLW1509 - fd 3/4 must be set up in the child
            pass_fds=(3, 4),
        )
        os.close(cmd_r)
        os.close(out_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._out_r)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self._out_r], [], [], left)
            if ready:
                chunk = os.read(self._out_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)  # type: ignore[no-any-return]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            e = self._read(deadline)
            self.events.append(e)
            if e.get("method") == method:
                return e


def visit(page: Path, width: int = 1100, screenshot: bool = True, height: int = 0) -> Visit:
    """Load ``page`` and record what happened; ``height`` > 0 cuts the screenshot there."""
    binary = find()
    if binary is None:
        raise FileNotFoundError("no chromium binary")
    with tempfile.TemporaryDirectory(prefix="logaudit-chromium-") as profile:
        b = Browser(binary, Path(profile))
        try:
            return _visit(b, page, width, screenshot, height)
        finally:
            b.close()


def _visit(b: Browser, page: Path, width: int, screenshot: bool, height: int) -> Visit:
    target = b.call("Target.createTarget", url="about:blank")["targetId"]
    s = b.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Network", "Page", "Debugger", "Log", "DOM", "CSS"):
        b.call(f"{domain}.enable", s)
    b.call(
        "Emulation.setDeviceMetricsOverride",
        s,
        width=width,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    b.events.clear()
    url = page.resolve().as_uri()
    b.call("Page.navigate", s, url=url)
    b.wait_for("Page.loadEventFired")
    v = Visit()
    root = b.call("DOM.getDocument", s, depth=-1)["root"]["nodeId"]
    for selector, into in (
        ("svg.chart, table[data-chart]", v.boxes),
        ("table[data-chart] td[bgcolor]", v.bars),
    ):
        for node in b.call("DOM.querySelectorAll", s, nodeId=root, selector=selector)["nodeIds"]:
            model = b.call("DOM.getBoxModel", s, nodeId=node)["model"]
            into.append((float(model["width"]), float(model["height"])))
            if into is v.bars:
                attrs = b.call("DOM.getAttributes", s, nodeId=node)["attributes"]
                given = dict(zip(attrs[::2], attrs[1::2], strict=True))["bgcolor"]
                v.bar_colours.append((given, _style(b, s, node, "background-color")))
    for node in b.call("DOM.querySelectorAll", s, nodeId=root, selector="tbody tr")["nodeIds"]:
        v.rows.append(float(b.call("DOM.getBoxModel", s, nodeId=node)["model"]["height"]))
    for node in b.call("DOM.querySelectorAll", s, nodeId=root, selector="svg.columns")["nodeIds"]:
        texts = []
        for t in b.call("DOM.querySelectorAll", s, nodeId=node, selector="text")["nodeIds"]:
            html = b.call("DOM.getOuterHTML", s, nodeId=t)["outerHTML"]
            texts.append((html[html.index(">") + 1 : html.rindex("<")], _box(b, s, t)))
        v.texts.append((_box(b, s, node), texts))
    body = b.call("DOM.querySelector", s, nodeId=root, selector="body")["nodeId"]
    v.background = _style(b, s, body, "background-color")
    if screenshot:
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1} if height else None
        extra = {"clip": clip} if clip else {}
        shot = b.call(
            "Page.captureScreenshot", s, format="png", captureBeyondViewport=True, **extra
        )
        v.screenshot = base64.b64decode(shot["data"])
    pdf = b.call("Page.printToPDF", s, paperWidth=8.27, paperHeight=11.69, printBackground=True)
    v.pdf = base64.b64decode(pdf["data"])
    b.call(
        "Emulation.setEmulatedMedia",
        s,
        features=[{"name": "prefers-color-scheme", "value": "dark"}],
    )
    v.background_dark = _style(b, s, body, "background-color")
    for e in b.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Network.requestWillBeSent":
            v.requests.append(params["request"]["url"])
        elif method == "Debugger.scriptParsed":
            v.scripts.append(params.get("url") or "(inline)")
        elif method == "Log.entryAdded":
            v.console.append(params["entry"].get("text", ""))
    v.requests = [r for r in v.requests if r != url]
    return v


def _box(b: Browser, session: str, node: int) -> Box:
    quad = b.call("DOM.getBoxModel", session, nodeId=node)["model"]["border"]
    xs, ys = quad[0::2], quad[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _style(b: Browser, session: str, node: int, name: str) -> str:
    styles = b.call("CSS.getComputedStyleForNode", session, nodeId=node)["computedStyle"]
    return next((p["value"] for p in styles if p["name"] == name), "")


if __name__ == "__main__":
    html, png = Path(sys.argv[1]), Path(sys.argv[2])
    png.write_bytes(visit(html, height=int(sys.argv[3]) if len(sys.argv) > 3 else 0).screenshot)
    print(f"{png}: {png.stat().st_size:,} bytes")
