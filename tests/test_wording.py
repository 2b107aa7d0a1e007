"""Counts said in words (logaudit/wording.py): "1 bad line", never "1 bad lines" (QA20 #8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from loglines import isolate, line, write

from logaudit.cli import cli
from logaudit.wording import counted


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def test_counted() -> None:
    assert counted(1, "bad line") == "1 bad line"
    assert [counted(n, "run") for n in (0, 2, 1234)] == ["0 runs", "2 runs", "1,234 runs"]


def test_one_bad_line_is_said_in_the_singular(tmp_path: Path) -> None:
    log = write(tmp_path / "long.log", [line(), line(), "203.0.113.3 - - garbage"])
    r = CliRunner().invoke(cli, ["summary", str(log), "-o", str(tmp_path / "out.txt")])
    said = [m for m in r.stderr.splitlines() if "did not parse" in m]
    assert said == [
        f"logaudit: {log}: 33% of lines did not parse as combined (1 bad line); "
        "is --log-format right?"
    ], r.stderr
    assert "1 bad line; the first: " in r.stderr


def test_no_message_spells_its_own_plural() -> None:
    """Each count's plural is chosen by ``counted``: a site that spells "s" if n > 1 (or
    "" if n == 1 else "s") again is how "(1 bad lines)" came about (a fixed plural) or
    drifts from the others."""
    root = Path(__file__).parent.parent / "logaudit"
    # Both orders: "'s' if n > 1 else ''" and "'' if n == 1 else 's'".
    own = re.compile(r"""["']s["'] if [^"'\n]*(?:> 1|!= 1|== 1)|else ["']s["']""")
    found = [
        f"{p.relative_to(root)}:{n}"
        for p in sorted(root.rglob("*.py"))
        for n, text in enumerate(p.read_text().splitlines(), 1)
        if own.search(text)
    ]
    assert found == []
