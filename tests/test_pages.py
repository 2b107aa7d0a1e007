"""The page-view rule (METRICS.md): a hit answered 200, 203 or 304 (not 204, 206 or another
2xx) to a path that is neither static nor a non-page (``/api/*``, ``*.json`` and the
configured ``non_pages``). Expected figures are counted by hand from the lines below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, write

from logaudit import api
from logaudit.cli import cli
from logaudit.config import load
from logaudit.errors import ConfigError, ExitCode

# (path, status, is it a page view?)
CASES = [
    ("/", 200, True),
    ("/about", 203, True),
    ("/cart", 304, True),
    ("/api/stock?product=1", 204, False),  # 204 and an API path
    ("/api/stock?product=2", 200, False),  # an API path, whatever the status
    ("/feed.json", 200, False),  # *.json (also a static extension)
    ("/orders/export.json?x=1", 200, False),
    ("/download", 206, False),  # partial content
    ("/created", 201, False),  # another 2xx
    ("/empty", 204, False),
    ("/moved", 301, False),
    ("/missing", 404, False),
    ("/style.css", 200, False),
    ("/apiary", 200, True),  # /api/* needs the slash
    ("/ajax/cart", 200, True),  # a page until configured otherwise
    ("/internal/poll", 200, True),
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _log(tmp_path: Path) -> Path:
    return write(
        tmp_path / "pages.log",
        [
            line(when=f"01/Mar/2024:10:{i:02d}:00 +0000", request=f"GET {p} HTTP/1.1", status=s)
            for i, (p, s, _) in enumerate(CASES)
        ],
    )


def _pages(tmp_path: Path, **settings: object) -> dict[str, int]:
    out = api.report("summary", [str(_log(tmp_path))], load(settings), ["pages"])
    assert out.report is not None
    rows = out.report.sections[0].rows
    return dict(zip(rows["path"], rows["page_views"], strict=True)) | {
        "": int(out.report.overview["page_views"])  # type: ignore[call-overload]
    }


def test_page_views_by_status_and_path(tmp_path: Path) -> None:
    got = _pages(tmp_path, top=0)
    expected = [p.split("?")[0] for p, _, page in CASES if page]
    assert got[""] == len(expected) == 6
    for path, _, page in CASES:
        bare = path.split("?")[0]
        if bare in got:
            assert (got[bare] > 0) == page, path


def test_configured_non_pages_extend_the_defaults(tmp_path: Path) -> None:
    got = _pages(tmp_path, top=0, non_pages=("/ajax/*", "re:^/internal/"))
    # /ajax/cart and /internal/poll drop out; /api/* and *.json still do.
    assert got[""] == 4
    assert got.get("/ajax/cart", 0) == 0 and got.get("/internal/poll", 0) == 0
    assert got.get("/api/stock", 0) == 0


def test_non_pages_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('non_pages = ["/ajax/*"]\n', encoding="utf-8")
    monkeypatch.setenv("LOGAUDIT_CONFIG", str(cfg))
    res = CliRunner().invoke(cli, ["summary", str(_log(tmp_path)), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["overview"]["page_views"] == 5


def test_bad_non_page_regex_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        api.report("summary", [str(_log(tmp_path))], load({"non_pages": ("re:(unclosed",)}))
    assert e.value.exit_code == ExitCode.CONFIG and "non_pages" in str(e.value)
    with pytest.raises(ConfigError) as e:
        api.report("summary", [str(_log(tmp_path))], load({"non_pages": ("re:(a{100}){11}",)}))
    assert "repeats at most 1000 times, nested repeats multiplied" in str(e.value)


def test_pages_and_static_bandwidth_leave_out_404_bytes(tmp_path: Path) -> None:
    """docs/metrics.md: pages and static leave 404 hits out, their bytes too (the bytes of a
    404 counted where its hit was not: /search showed 0 B of hits and the 404's 2345 B)."""
    sizes = [("/search", 200, 0), ("/search", 404, 2345), ("/style.css", 200, 500)]
    sizes += [("/style.css", 404, 77)]
    log = write(
        tmp_path / "nf.log",
        [
            line(
                when=f"01/Mar/2024:10:{i:02d}:00 +0000",
                request=f"GET {p} HTTP/1.1",
                status=s,
                size=b,
            )
            for i, (p, s, b) in enumerate(sizes)
        ],
    )
    out = api.report("summary", [str(log)], load({}), ["pages", "static", "not-found"])
    assert out.report is not None
    got = {
        sec.name: dict(
            zip(
                sec.rows["path"],
                zip(sec.rows["hits"], sec.rows.get("bandwidth", sec.rows["hits"]), strict=True),
                strict=True,
            )
        )
        for sec in out.report.sections
    }
    assert got["pages"] == {"/search": (1, 0)}
    assert got["static"] == {"/style.css": (1, 500)}
    assert set(got["not-found"]) == {"/search", "/style.css"}
    assert out.report.overview["bandwidth"] == 2345 + 500 + 77
