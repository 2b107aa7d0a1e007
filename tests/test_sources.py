"""sources: arguments -> inputs (files, globs, rotated sets, stdin), and inputs -> blocks of whole
lines, with compression found by magic bytes and every problem reported, never raised."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import sys
from pathlib import Path

import pytest
from loglines import line, write

from logaudit.errors import ExitCode, InputMissingError
from logaudit.sources import Input, ReadState, expand, read_blocks


def read_all(inp: Input, block_bytes: int | None = None) -> tuple[list, ReadState]:
    state = ReadState()
    kw = {} if block_bytes is None else {"block_bytes": block_bytes}
    blocks = list(read_blocks(inp, state, **kw))
    return blocks, state


def joined(blocks: list) -> bytes:
    return b"".join(bytes(b.data) for b in blocks)


def file_input(path: Path) -> Input:
    return Input(str(path), path)


def numbered(n: int, seed: int = 0) -> bytes:
    """``n`` distinct log lines of varied length (so compressors do not shrink them to nothing)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        junk = "".join(
            rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randint(0, 60))
        )
        out.append(line(request=f"GET /p{i}?r={junk} HTTP/1.1", size=i).encode() + b"\n")
    return b"".join(out)


# ---- expand: arguments -> inputs -----------------------------------------------------------


def test_expand_one_file(tmp_path: Path) -> None:
    p = write(tmp_path / "access.log", [line()])
    [inp] = expand([str(p)])
    assert inp.path == p and inp.name == str(p)


def test_expand_several_files_keeps_the_given_order(tmp_path: Path) -> None:
    a = write(tmp_path / "zeta.log", [line()])
    b = write(tmp_path / "alpha.log", [line()])
    assert [i.path for i in expand([str(a), str(b)])] == [a, b]


def test_expand_same_file_twice_is_read_once(tmp_path: Path) -> None:
    a = write(tmp_path / "access.log", [line()])
    got = expand([str(a), str(tmp_path / "." / "access.log")])
    assert [i.note for i in got] == [None, "named twice: read once"]  # said (QA21 #12)


def test_expand_quoted_glob(tmp_path: Path) -> None:
    # The shell did not expand it (it was quoted): logaudit does.
    for name in ("a.log", "b.log", "c.txt"):
        write(tmp_path / name, [line()])
    got = expand([str(tmp_path / "*.log")])
    assert sorted(i.path.name for i in got) == ["a.log", "b.log"]


def test_expand_glob_matching_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError) as e:
        expand([str(tmp_path / "*.log")])
    assert e.value.exit_code == ExitCode.INPUT_MISSING
    assert "*.log" in str(e.value) and "\n" not in str(e.value)


def _rotated_set(d: Path) -> None:
    # Each file holds one line naming its generation, so the reading order shows in the data.
    def one(i: int) -> bytes:
        return line(request=f"GET /gen{i} HTTP/1.1").encode() + b"\n"

    (d / "access.log").write_bytes(one(0))
    (d / "access.log.1").write_bytes(one(1))
    (d / "access.log.2.gz").write_bytes(gzip.compress(one(2)))
    (d / "access.log.3.bz2").write_bytes(bz2.compress(one(3)))
    (d / "access.log.4.xz").write_bytes(lzma.compress(one(4)))


ROTATED_OLDEST_FIRST = [
    "access.log.4.xz",
    "access.log.3.bz2",
    "access.log.2.gz",
    "access.log.1",
    "access.log",
]


def test_directory_of_a_rotated_set_is_read_oldest_first(tmp_path: Path) -> None:
    _rotated_set(tmp_path)
    (tmp_path / "README.md").write_text("not a log\n")  # left out silently
    (tmp_path / "notes.txt").write_text("not a log\n")
    inputs = expand([str(tmp_path)])
    # The file left out by its name is a note, said when read, not an input.
    note, inputs = inputs[0], inputs[1:]
    assert note.note is not None and "1 file in it not read" in note.note
    assert "(notes.txt)" in note.note
    assert [i.path.name for i in inputs] == ROTATED_OLDEST_FIRST
    data = b""
    for inp in inputs:
        blocks, state = read_all(inp)
        assert state.problems == []
        data += joined(blocks)
    gens = [ln.split(b"/gen")[1][:1] for ln in data.splitlines()]
    assert gens == [b"4", b"3", b"2", b"1", b"0"]


def test_glob_of_a_rotated_set_is_read_oldest_first(tmp_path: Path) -> None:
    _rotated_set(tmp_path)
    assert [i.path.name for i in expand([str(tmp_path / "access.log*")])] == ROTATED_OLDEST_FIRST


def test_rotated_files_given_one_by_one_are_reordered_oldest_first(tmp_path: Path) -> None:
    _rotated_set(tmp_path)
    args = [str(tmp_path / n) for n in ("access.log", "access.log.2.gz", "access.log.1")]
    assert [i.path.name for i in expand(args)] == ["access.log.2.gz", "access.log.1", "access.log"]


def test_rotation_numbers_sort_as_numbers(tmp_path: Path) -> None:
    for n in (
        "access.log",
        "access.log.1",
        "access.log.2.gz",
        "access.log.9.gz",
        "access.log.10.gz",
    ):
        (tmp_path / n).write_bytes(gzip.compress(b"x\n") if n.endswith(".gz") else b"x\n")
    assert [i.path.name for i in expand([str(tmp_path)])] == [
        "access.log.10.gz",
        "access.log.9.gz",
        "access.log.2.gz",
        "access.log.1",
        "access.log",
    ]


def test_dated_rotation_names_sort_by_date(tmp_path: Path) -> None:
    names = [
        "access.log",
        "access.log-20240102.gz",
        "access.log-20231231",
        "access.log-20240101.gz",
    ]
    for n in names:
        (tmp_path / n).write_bytes(gzip.compress(b"x\n") if n.endswith(".gz") else b"x\n")
    assert [i.path.name for i in expand([str(tmp_path)])] == [
        "access.log-20231231",
        "access.log-20240101.gz",
        "access.log-20240102.gz",
        "access.log",
    ]


def test_a_name_with_a_newline_is_read_like_any_other(tmp_path: Path) -> None:
    # QA18 #1: the rotation pattern did not match across a newline (AssertionError, exit 1).
    for n in ("a\nb.log", "a\nb.log.1", "x.log\n"):
        write(tmp_path / n, [line()])
    assert [
        i.path.name for i in expand([str(tmp_path / "a\nb.log"), str(tmp_path / "a\nb.log.1")])
    ] == [
        "a\nb.log.1",
        "a\nb.log",
    ]
    [inp] = expand([str(tmp_path / "x.log\n")])
    assert inp.path.name == "x.log\n"


def test_directory_without_logs(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello\n")
    with pytest.raises(InputMissingError) as e:
        expand([str(tmp_path)])
    assert e.value.exit_code == ExitCode.INPUT_MISSING
    assert str(tmp_path) in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError) as e:
        expand([str(tmp_path / "nope.log")])
    assert e.value.exit_code == ExitCode.INPUT_MISSING
    assert "nope.log" in str(e.value) and "\n" not in str(e.value)


def test_stdin_argument() -> None:
    [inp] = expand(["-"])
    assert inp.path is None


# ---- read_blocks: compression, stdin, problems ----------------------------------------------


@pytest.mark.parametrize(
    "name, compress",
    [
        ("looks-plain.log", gzip.compress),  # gzip named .log
        ("access.log.1", bz2.compress),  # bzip2 with no compression suffix
        ("data", lzma.compress),  # xz with no suffix at all
        ("access.log.gz", lambda b: b),  # plain text named .gz
    ],
)
def test_compression_is_found_by_magic_bytes_not_name(tmp_path: Path, name: str, compress) -> None:
    raw = numbered(50)
    p = tmp_path / name
    p.write_bytes(compress(raw))
    blocks, state = read_all(file_input(p))
    assert state.problems == []
    assert joined(blocks) == raw


def test_concatenated_gzip_members_are_all_read(tmp_path: Path) -> None:
    # cat access.log.2.gz access.log.1.gz > both.gz
    a, b = numbered(10, seed=1), numbered(10, seed=2)
    p = tmp_path / "both.gz"
    p.write_bytes(gzip.compress(a) + gzip.compress(b))
    blocks, state = read_all(file_input(p))
    assert state.problems == []
    assert joined(blocks) == a + b


def _fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress], ids=["plain", "gzip"])
def test_stdin(monkeypatch: pytest.MonkeyPatch, compress) -> None:
    raw = numbered(20)
    _fake_stdin(monkeypatch, compress(raw))
    [inp] = expand(["-"])
    blocks, state = read_all(inp, block_bytes=256)
    assert state.problems == []
    assert joined(blocks) == raw


def test_file_gone_after_expand_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    p = write(tmp_path / "access.log", [line()])
    [inp] = expand([str(p)])
    p.unlink()
    blocks, state = read_all(inp)
    assert blocks == []
    [problem] = state.problems
    assert problem.exit_code == ExitCode.INPUT_MISSING
    assert str(p) in str(problem)


# An unreadable file: tests/test_faults.py::test_unreadable_file runs it as an unprivileged
# process (as root the file would be read whatever its mode).


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    blocks, state = read_all(file_input(p))
    assert blocks == []
    [problem] = state.problems
    assert "empty" in problem.message


def test_empty_gzip_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.log.gz"
    p.write_bytes(gzip.compress(b""))
    blocks, state = read_all(file_input(p))
    assert blocks == []
    assert any("empty" in pr.message for pr in state.problems)
    assert all(pr.exit_code != ExitCode.INPUT_TRUNCATED for pr in state.problems)


def test_binary_file(tmp_path: Path) -> None:
    p = tmp_path / "access.log"
    p.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4)
    blocks, state = read_all(file_input(p))
    assert blocks == []
    [problem] = state.problems
    assert problem.exit_code == ExitCode.INPUT_INVALID
    assert "binary" in problem.message


def test_binary_inside_gzip(tmp_path: Path) -> None:
    p = tmp_path / "access.log.gz"
    p.write_bytes(gzip.compress(b"\x00" * 100 + b"\n"))
    blocks, state = read_all(file_input(p))
    assert blocks == []
    assert [pr.exit_code for pr in state.problems] == [ExitCode.INPUT_INVALID]


TRUNCATABLE = [
    ("gz", gzip.compress),
    ("xz", lzma.compress),
    # bzip2 decodes whole 100-900 kB blocks: level 1 (100 kB blocks) leaves complete blocks
    # before the cut.
    ("bz2", lambda b: bz2.compress(b, compresslevel=1)),
]


@pytest.mark.parametrize("block_bytes", [None, 4096], ids=["default-blocks", "small-blocks"])
@pytest.mark.parametrize("ext, compress", TRUNCATABLE, ids=[t[0] for t in TRUNCATABLE])
def test_truncated_compressed_file_keeps_the_lines_before_the_cut(
    tmp_path: Path, ext: str, compress, block_bytes: int | None
) -> None:
    raw = numbered(6000)
    packed = compress(raw)
    p = tmp_path / f"access.log.1.{ext}"
    p.write_bytes(packed[: len(packed) // 2])
    blocks, state = read_all(file_input(p), block_bytes)

    assert [pr.exit_code for pr in state.problems] == [ExitCode.INPUT_TRUNCATED]
    assert "read" in state.problems[0].message  # says that what came before the cut was kept
    got = joined(blocks)
    assert got.endswith(b"\n")
    complete, _, partial = got[:-1].rpartition(b"\n")
    complete += b"\n"
    # Every whole line before the cut is there, in order, unchanged; at most one partial
    # line follows (it becomes a bad line, not lost).
    assert raw.startswith(complete)
    assert raw[len(complete) :].startswith(partial)
    assert complete.count(b"\n") > 1000
    assert state.lines_read[str(p)] == got.count(b"\n")


def test_corrupt_gzip_is_reported_as_truncated(tmp_path: Path) -> None:
    raw = numbered(3000)
    packed = bytearray(gzip.compress(raw))
    mid = len(packed) // 2
    packed[mid : mid + 64] = b"\xff" * 64
    p = tmp_path / "access.log.gz"
    p.write_bytes(bytes(packed))
    blocks, state = read_all(file_input(p))
    assert [pr.exit_code for pr in state.problems] == [ExitCode.INPUT_TRUNCATED]
    # Deflate has no check before the member's end: the damaged stretch may decode to junk
    # (bad lines, as zcat prints it too); every line before the damage is there, unchanged.
    got = joined(blocks).split(b"\n")
    same = next(i for i, (a, b) in enumerate(zip(got, raw.split(b"\n"), strict=False)) if a != b)
    assert same > 1000
    assert "every line before it was read" in state.problems[0].message


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 1000, 1 << 20])
def test_blocks_end_on_line_boundaries_and_number_lines_right(
    tmp_path: Path, block_bytes: int
) -> None:
    raw = numbered(300) + b"\n" + b"  \n" + b"# comment\n" + numbered(20, seed=5)
    p = tmp_path / "access.log"
    p.write_bytes(raw)
    blocks, state = read_all(file_input(p), block_bytes)
    assert state.problems == []
    assert joined(blocks) == raw
    expected_first = 1
    for b in blocks:
        data = bytes(b.data)
        assert data.endswith(b"\n")
        assert b.first_line == expected_first
        assert b.lines == data.count(b"\n")
        # The line numbers are those of the file: check one line of each block.
        first = data.split(b"\n", 1)[0]
        assert raw.split(b"\n")[b.first_line - 1] == first
        expected_first += b.lines
    assert expected_first - 1 == raw.count(b"\n") == state.lines_read[str(p)]
    assert state.bytes_read[str(p)] == len(raw)


def test_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "access.log"
    p.write_bytes(b"one\ntwo\nthree")
    blocks, state = read_all(file_input(p), block_bytes=4)
    assert joined(blocks) == b"one\ntwo\nthree\n"
    assert state.lines_read[str(p)] == 3


def test_crlf_lines_are_passed_through(tmp_path: Path) -> None:
    raw = b"".join(x + b"\r\n" for x in numbered(5).splitlines())
    p = tmp_path / "access.log"
    p.write_bytes(raw)
    blocks, _ = read_all(file_input(p), block_bytes=100)
    assert joined(blocks) == raw


@pytest.mark.parametrize("block_bytes", [1, 4, 7, 1 << 20])
def test_a_byte_range_reads_exactly_its_bytes(tmp_path: Path, block_bytes: int) -> None:
    raw = numbered(40)
    p = tmp_path / "access.log"
    p.write_bytes(raw)
    start = raw.index(b"\n", 100) + 1
    end = raw.index(b"\n", 300) + 1
    blocks, state = read_all(Input(str(p), p, (start, end)), block_bytes=block_bytes)
    assert joined(blocks) == raw[start:end]
    assert state.bytes_read[str(p)] == end - start


@pytest.mark.parametrize("hole", [70_000, 300_000])
def test_text_after_a_nul_hole_is_not_nothing_but_nuls(tmp_path: Path, hole: int) -> None:
    # The "nothing but NUL bytes" check looks at the first 64 KiB first: text only after a
    # longer hole must still be found (the whole input is then scanned).
    p = tmp_path / "a.log"
    p.write_bytes(b"\x00" * hole + b"\n" + line().encode() + b"\n")
    state = ReadState()
    blocks = list(read_blocks(Input(str(p), p), state, block_bytes=1 << 20))
    assert not state.problems
    assert b"".join(bytes(b.data) for b in blocks).strip() == line().encode()
    only = tmp_path / "b.log"
    only.write_bytes(b"\x00" * hole + b"\n \n")
    state = ReadState()
    assert list(read_blocks(Input(str(only), only), state, block_bytes=1 << 20)) == []
    assert [q.message for q in state.problems] == ["nothing but NUL bytes"]


def test_a_byte_range_of_nothing_but_nuls_is_read_as_its_lines_and_runs(tmp_path: Path) -> None:
    """A range (--jobs, Dask) of lines of NULs only, shorter than a block, was judged as a
    whole input: "nothing but NUL bytes", no block, its lines and runs lost (and Dask, which
    keeps its tasks' problems, said that of the input). Only a whole input is that."""
    good = (line() + "\n").encode() * 20
    p = tmp_path / "a.log"
    p.write_bytes(good + (b"\x00" * 500 + b"\n") * 30 + good)
    start, end = len(good) + 501 * 10, len(good) + 501 * 20  # ten lines of NULs
    state = ReadState()
    blocks = list(read_blocks(Input(str(p), p, (start, end)), state, block_bytes=1 << 20))
    assert not state.problems
    assert state.lines_read[str(p)] == 10
    assert sum(len(b.stretches) for b in blocks) == 10
    assert [n for b in blocks for n, _ in b.stretches] == list(range(1, 11))


def test_blocks_shared_among_threads_are_equal_and_a_multiple(tmp_path: Path) -> None:
    """share=2: a plain file of SHARE_MIN_BYTES or more is cut into an even number of blocks
    of one size (at most the block size), holding the same lines as the usual cut."""
    from logaudit.sources import SHARE_MIN_BYTES, shared_block_bytes

    p = tmp_path / "access.log"
    rng = random.Random(5)
    with open(p, "wb") as f:
        n = 0
        while f.tell() < 5 * SHARE_MIN_BYTES // 2:
            f.write(f"line {n} {'x' * rng.randrange(200)}\n".encode())
            n += 1
    size = p.stat().st_size
    block = 1024 * 1024  # more than two rounds of blocks for share 2 and 3 (ONE_ROUND_UP_TO)
    assert shared_block_bytes(size, block, 2) <= block
    for share in (2, 3):
        state = ReadState()
        got = list(read_blocks(Input(str(p), p), state, block_bytes=block, share=share))
        assert len(got) % share == 0 and len(got) > share
        sizes = [len(b.data) for b in got]
        assert max(sizes) - min(sizes) < 1024  # equal but for the lines cut at their ends
        assert [b.first_line for b in got] == [1] + [
            1 + sum(b.lines for b in got[:k]) for k in range(1, len(got))
        ]
        assert sum(b.lines for b in got) == n == state.lines_read[str(p)]
        assert b"".join(bytes(b.data) for b in got) == p.read_bytes()
    # Small, unknown (compressed, stdin) and single-thread inputs keep the usual block size.
    assert shared_block_bytes(SHARE_MIN_BYTES - 1, block, 2) == block
    assert shared_block_bytes(1 << 62, block, 2) == block
    assert shared_block_bytes(size, block, 1) == block


def test_a_file_of_up_to_two_rounds_is_one_round_of_larger_blocks(tmp_path: Path) -> None:
    """share=2: a plain file of at most ONE_ROUND_UP_TO x 2 blocks is cut into exactly two
    equal blocks (one per thread, under twice the block size), with the same lines; past
    that, rounds of blocks of at most the block size, as before."""
    from logaudit.sources import ONE_ROUND_UP_TO, SHARE_MIN_BYTES, shared_block_bytes

    p = tmp_path / "access.log"
    rng = random.Random(7)
    with open(p, "wb") as f:
        n = 0
        while f.tell() < 3 * SHARE_MIN_BYTES // 2:
            f.write(f"line {n} {'y' * rng.randrange(200)}\n".encode())
            n += 1
    size = p.stat().st_size
    assert ONE_ROUND_UP_TO == 2
    block = size // 3  # three blocks' worth: within two rounds of two
    got = list(read_blocks(Input(str(p), p), ReadState(), block_bytes=block, share=2))
    assert len(got) == 2
    assert abs(len(got[0].data) - len(got[1].data)) < 1024
    assert max(len(b.data) for b in got) < 2 * block
    assert sum(b.lines for b in got) == n
    assert b"".join(bytes(b.data) for b in got) == p.read_bytes()
    # Past two rounds' worth: blocks of at most the block size again.
    assert shared_block_bytes(size, size // 5, 2) <= size // 5
    assert shared_block_bytes(size, size // 4 + 1, 2) == -(-size // 2)


def _w3c_with_header_at(tmp_path: Path, at: int, size: int) -> tuple[Path, bytes]:
    """A W3C log whose second ``#Fields:`` line starts at byte ``at`` (padding lines before it,
    lines after it up to about ``size`` bytes)."""
    first = b"#Version: 1.0\n#Fields: date time cs-uri-stem sc-status\n"
    new = b"#Fields: date time cs-uri-stem sc-status sc-bytes time-taken\n"
    pad = b"2015-01-13 00:00:00 /a 200\n"
    data = bytearray(first)
    while len(data) + len(pad) < at:
        data += pad
    data += b"#" * (at - len(data) - 1) + b"\n"  # a comment line ending right before ``at``
    assert len(data) == at
    data += new
    while len(data) < size:
        data += b"2015-01-13 00:00:01 /b 200 1234 0.5\n"
    path = tmp_path / "u_ex.log"
    path.write_bytes(bytes(data))
    return path, new.rstrip(b"\n")


@pytest.mark.parametrize("cross", [40, 1, len(b"\n#Fields:")])
def test_a_fields_line_across_the_heads_end_is_the_one_in_force(tmp_path: Path, cross: int) -> None:
    # QA17's big34.log: the header started 37 bytes before the head's end and ended after it;
    # the backwards search started at the head's end and missed it (--jobs 2: bandwidth lost).
    from logaudit.sources import HEAD_BYTES, head_and_lead

    path, new = _w3c_with_header_at(tmp_path, HEAD_BYTES - cross, 3 * HEAD_BYTES)
    with open(path, "rb") as f:
        _, lead, _ = head_and_lead(f, 3 * HEAD_BYTES - 100)
    assert lead.startswith(new + b"\n")


@pytest.mark.parametrize("back", [1, 2, 3])
def test_a_fields_line_found_across_the_search_blocks(tmp_path: Path, back: int) -> None:
    # The backwards search reads a MiB at a time: a header across two blocks is still found.
    from logaudit.sources import HEAD_BYTES, last_fields

    size = 5 * HEAD_BYTES
    at = size - back * HEAD_BYTES - 4
    path, new = _w3c_with_header_at(tmp_path, at, size)
    with open(path, "rb") as f:
        assert last_fields(f, 100, size) == (at, new)
        assert last_fields(f, at + 1, size) == (-1, b"")


def test_a_file_cut_short_during_the_header_search_is_no_crash(tmp_path: Path) -> None:
    # A copytruncate while the search ran: a mapped file cut short killed Python (SIGBUS).
    # Here the file is emptied as the search starts, whichever way it reads it.
    import subprocess

    from logaudit.sources import HEAD_BYTES

    path, _ = _w3c_with_header_at(tmp_path, 100_000, 4 * HEAD_BYTES)
    code = f"""
import mmap, os
from logaudit.sources import last_fields
path = {str(path)!r}
real_mmap, real_pread = mmap.mmap, os.pread
def mapped(*a, **k):
    m = real_mmap(*a, **k)
    os.truncate(path, 0)
    return m
def pread(fd, n, at):
    os.truncate(path, 0)
    return real_pread(fd, n, at)
mmap.mmap, os.pread = mapped, pread
with open(path, "rb") as f:
    print(last_fields(f, 50, {4 * HEAD_BYTES}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(-1, b'')"


def _cut_inside_line_one(data: bytes) -> bytes:
    """An xz of ``data`` cut where it decompresses to part of the first line, no newline."""
    packed = lzma.compress(data)
    for n in range(len(packed)):
        got = lzma.LZMADecompressor().decompress(packed[:n])
        if got and b"\n" not in got:
            return packed[:n]
    raise AssertionError("no cut inside line 1")


@pytest.mark.parametrize(
    "make",
    [
        lambda d: gzip.compress(d)[:15],  # a header and nothing decompressed
        lambda d: bz2.compress(d)[:200],  # a bz2 being written: no block finished
        lambda d: lzma.compress(d)[:40],
        _cut_inside_line_one,
    ],
    ids=["gz-15-bytes", "bz2-unfinished-block", "xz-header", "xz-inside-line-1"],
)
def test_compressed_log_cut_before_its_first_line_is_only_cut_short(
    tmp_path: Path, make: object
) -> None:
    """QA21 #4: said "nothing but NUL bytes" (an empty buffer is vacuously all NULs) or "log
    format not recognised" (a partial first line), exit 4, beside "cut short"; now only the
    cut, exit 5, as the README's exit table says."""
    p = tmp_path / "a.log.gz"
    p.write_bytes(make(numbered(50)))  # type: ignore[operator]
    blocks, state = read_all(file_input(p))
    assert not joined(blocks).strip(b"\n")
    assert [(pr.exit_code, "cut short" in str(pr)) for pr in state.problems] == [
        (ExitCode.INPUT_TRUNCATED, True)
    ], state.problems


def test_the_same_file_named_twice_or_through_a_symlink_is_read_once_and_said(
    tmp_path: Path,
) -> None:
    """QA21 #12: read once in silence; now one note line each (a copy is another file)."""
    log = write(tmp_path / "a.log", [line()])
    (tmp_path / "link.log").symlink_to(log)
    (tmp_path / "copy.log").write_bytes(log.read_bytes())
    args = [str(log), str(tmp_path / "link.log"), str(log), str(tmp_path / "copy.log")]
    got = expand(args)
    read = [i.name for i in got if i.note is None]
    notes = sorted(f"{i.name}: {i.note}" for i in got if i.note is not None)
    assert read == [str(log), str(tmp_path / "copy.log")]
    assert notes == [f"{log}: named twice: read once",
                     f"{tmp_path / 'link.log'}: the same file as {log}: read once"]


def test_a_hard_link_to_a_file_named_is_read_once_and_said(tmp_path: Path) -> None:
    """Two names of one file (a hard link: no symlink to resolve) were read twice, every
    figure doubled (rev21-e #5): read once, said as for a symlink."""
    log = write(tmp_path / "a.log", [line()])
    os.link(log, tmp_path / "b.log")
    got = expand([str(log), str(tmp_path / "b.log")])
    assert [i.name for i in got if i.note is None] == [str(log)]
    assert [i.note for i in got if i.note is not None] == [f"the same file as {log}: read once"]
