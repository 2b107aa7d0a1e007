"""``logaudit scrub`` on many blocks, two at a time in threads: the same bytes and the same
counts as one block at a time, whatever the block size; W3C (whose ``#Fields:`` headers change
the layout of later blocks) stays in order."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from loglines import isolate, line, write
from pii_log import lines

from logaudit import scrub
from logaudit.config import Settings
from logaudit.scrub import scrub_file


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _same_whatever_the_threads(monkeypatch: pytest.MonkeyPatch, src: Path, tmp_path: Path,
                               ip: str = "mask", fmt: str | None = None,
                               suffix: str = ".log") -> tuple[bytes, scrub.Counts]:
    """Scrub ``src`` one block at a time and in threads, with several block sizes: the same
    bytes and counts every time (the distinct values masked per kind are counted per block,
    so those only between runs with the same block size). The first run's output."""
    seen: dict[int | None, tuple[bytes, scrub.Counts]] = {}
    for threads, block in ((1, None), (1, 4096), (2, 4096), (1, 1500), (2, 1500), (3, 1500)):
        monkeypatch.setattr(scrub, "THREADS", threads)
        dst = tmp_path / f"out-{threads}-{block}{suffix}"
        c = scrub_file(src, dst, Settings(log_format=fmt), ip=ip, block_size=block).counts
        data = dst.read_bytes()
        data = gzip.decompress(data) if suffix.endswith(".gz") else data
        first = next(iter(seen.values()), None)
        if first is not None:
            assert data == first[0], (threads, block)
            assert (c.lines, c.bad, c.changed) == (first[1].lines, first[1].bad,
                                                   first[1].changed), (threads, block)
        if block in seen:
            assert c.by_kind == seen[block][1].by_kind, (threads, block)
        seen.setdefault(block, (data, c))
    return seen[None]


@pytest.mark.parametrize("ip", ["mask", "hash", "keep"])
def test_threads_and_block_sizes_give_the_same_bytes_and_counts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ip: str
) -> None:
    rows = lines(repeat=2)
    # Bad lines and a client that is not the first token's kind scattered through the blocks.
    for i in range(0, len(rows), 97):
        rows.insert(i, "not a log line, mail jane@example.com")
    src = write(tmp_path / "access.log", rows)
    # The format named: detection on a 1,500-byte head (the smallest block here) could see
    # only lines without a referrer and take the log for "common".
    data, c = _same_whatever_the_threads(monkeypatch, src, tmp_path, ip, "combined")
    assert c.lines == len(rows) and c.bad > 5 and c.changed > 0 and c.by_kind
    assert data != src.read_bytes() and b"mary@example.net" not in data


def test_threads_client_as_second_token_and_gzip(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    rows = [
        line(client=f"198.51.{i % 7}.{i % 250}", vhost="shop.example.com:443",
             request=f"GET /p/{i}?email=u{i}%40example.com HTTP/1.1" if i % 13 == 0
             else f"GET /p/{i} HTTP/1.1", user="John Begood" if i % 17 == 0 else "-")
        for i in range(600)
    ]
    src = tmp_path / "v.log.gz"
    src.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    data, c = _same_whatever_the_threads(monkeypatch, src, tmp_path, fmt="vcombined",
                                         suffix=".log.gz")
    assert b" 198.51.1.0 " in data and b" 198.51.1.1 " not in data
    assert b"u13%40example.com" not in data and c.bad == 0


def test_w3c_is_scrubbed_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A #Fields: header changes the layout of the blocks after it: never in threads."""
    head1 = "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status"
    head2 = "#Fields: date time cs-uri-stem cs-uri-query c-ip sc-status"
    rows = [head1]
    rows += [f"2024-03-01 08:00:{i % 60:02d} 198.51.100.{i % 200} GET /a/{i} "
             f"email=a{i}%40example.com 200" for i in range(150)]
    rows += [head2]
    rows += [f"2024-03-01 09:00:{i % 60:02d} /b/{i} - 203.0.113.{i % 200} 200"
             for i in range(150)]
    src = write(tmp_path / "u_ex240301.log", rows)
    data, c = _same_whatever_the_threads(monkeypatch, src, tmp_path)
    text = data.decode()
    assert "a7%40example.com" not in text and "203.0.113.0 200" in text and c.bad == 0
