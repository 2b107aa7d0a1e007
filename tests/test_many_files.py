"""Many small inputs through one glob (issue #18, "Many files"): small blocks of inputs read in
one format are parsed together (pipeline._process_bundle); every figure must be what reading
their concatenation gives, and every bad line, parsed count and personal-data example must
still name its own file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from loglines import isolate

from logaudit.analyze.base import PENDING_FRAMES, Accumulator, Table, merge
from logaudit.cli import cli
from logaudit.engine import local as pipeline
from logaudit.errors import ExitCode
from logaudit.parse import BAD_SAMPLES
from logaudit.samplegen import generate_lines, malformed
from logaudit.sources import PROBLEMS_SHOWN

FILES = 300


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _cli(*args: object) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def _json(*args: object) -> dict:
    code, out, err = _cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def _write_files(folder: Path, bad_files: list[int]) -> tuple[bytes, dict[str, int]]:
    """FILES files of 3 generated lines each (a blank line in one, no closing newline in
    another, one malformed line in each of ``bad_files``); returns their concatenation
    and, per bad file, the line number of its bad line."""
    lines = [ln.decode() for ln in generate_lines(3 * FILES, seed=18)]
    folder.mkdir()
    whole = []
    planted: dict[str, int] = {}
    for i in range(FILES):
        mine = lines[3 * i : 3 * i + 3]
        if i in bad_files:
            mine[1] = malformed("bad_status", mine[1])
            planted[str(folder / f"f{i:04d}.log")] = 2
        if i == 7:
            mine.insert(1, "\n")  # a blank line: skipped, neither parsed nor bad
        text = "".join(mine)
        whole.append(text)
        if i == 11:
            text = text[:-1]  # the last line without its newline
        (folder / f"f{i:04d}.log").write_text(text)
    return "".join(whole).encode(), planted


@pytest.mark.parametrize(
    ("bad_files", "mode"),
    [
        ([3, 150], "joined"),
        (list(range(20, 32)), "joined"),
        (list(range(20, 32)), "reparse-capped"),
        (list(range(20, 32)), "one-by-one"),
    ],
    ids=["few-bad", "many-bad", "many-bad-reparse-capped", "many-bad-one-by-one"],
)
def test_a_glob_of_tiny_files_gives_the_figures_of_their_concatenation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_files: list[int], mode: str
) -> None:
    """With few bad lines, each input's bad lines are known from the examples; with more,
    from its lines less the parsed, blank and comment ones, and the inputs left without
    examples are parsed alone for theirs (up to REPARSE_BLOCKS); when the counts do not add
    up (here forced), the joined block is processed file by file. Same figures for all."""
    if mode == "one-by-one":
        monkeypatch.setattr(pipeline, "_skipped", lambda data, starts: 0 * starts[1:])
    if mode == "reparse-capped":
        monkeypatch.setattr(pipeline, "REPARSE_BLOCKS", 2)
    one, planted = _write_files(tmp_path / "many", bad_files)
    (tmp_path / "all.log").write_bytes(one)
    glob = _json("summary", str(tmp_path / "many" / "*.log"))
    cat = _json("summary", tmp_path / "all.log")
    assert glob["overview"] == cat["overview"]
    assert glob["sections"] == cat["sections"]
    assert glob["bad_lines"]["total"] == cat["bad_lines"]["total"] == len(bad_files)
    # Each input's own accounting: its lines, parsed and bad lines, its bad line's number.
    inputs = {i["file"]: i for i in glob["inputs"]}
    assert len(inputs) == FILES
    for name, info in inputs.items():
        blank = name.endswith("f0007.log")
        assert info["lines"] == 3 + blank
        assert info["bad_lines"] == (1 if name in planted else 0)
        assert info["parsed"] == 3 - info["bad_lines"]
        assert info["skipped_lines"] == blank
        assert info["format"] == "combined"
    assert glob["bad_lines"]["by_file"] == {n: 1 for n in planted}
    # Examples: every input's own, as without joining; past REPARSE_BLOCKS, counts only.
    examples = {(e["file"], e["line"]) for e in glob["bad_lines"]["examples"]}
    assert examples <= set(planted.items())
    assert len(examples) == (BAD_SAMPLES + 2 if mode == "reparse-capped" else len(planted))
    assert sum(i["parsed"] for i in inputs.values()) == cat["inputs"][0]["parsed"]


def test_jobs_2_gives_the_same_figures(tmp_path: Path) -> None:
    _write_files(tmp_path / "many", [5])
    pattern = str(tmp_path / "many" / "*.log")
    one = _json("summary", pattern)
    two = _json("summary", pattern, "--jobs", "2")
    for key in ("overview", "sections", "inputs", "bad_lines"):
        assert one[key] == two[key], key


def test_rows_keep_their_own_file_and_line(tmp_path: Path) -> None:
    """The personal-data examples name the file and line an e-mail address was found on,
    though its block was parsed joined with 299 others."""
    _write_files(tmp_path / "many", [])
    target = tmp_path / "many" / "f0123.log"
    lines = target.read_text().splitlines(keepends=True)
    lines[2] = re.sub(r'"(GET|HEAD|POST) \S+', r'"\1 /signup?email=jane.doe@example.com', lines[2])
    target.write_text("".join(lines))
    code, out, err = _cli("privacy", "--format", "json", str(tmp_path / "many" / "*.log"))
    assert code == ExitCode.PERSONAL_DATA, err
    rows = next(s for s in json.loads(out)["sections"] if s["name"] == "personal-data")["rows"]
    assert [r["examples"].split(" ")[0] for r in rows] == [f"{target}:3"]


def test_a_file_in_another_format_among_many_is_detected_as_itself(tmp_path: Path) -> None:
    """The previous input's format is tried first, and kept only when every line fits it."""
    _write_files(tmp_path / "many", [])
    odd = tmp_path / "many" / "f0100.log"
    # The common format: the combined lines without their referrer and user agent.
    odd.write_text("".join(ln.rsplit(' "', 2)[0] + "\n" for ln in odd.read_text().splitlines()))
    glob = _json("summary", str(tmp_path / "many" / "*.log"))
    formats = {i["file"]: i["format"] for i in glob["inputs"]}
    assert formats.pop(str(odd)) == "common"
    assert set(formats.values()) == {"combined"}
    assert glob["bad_lines"]["total"] == 0
    assert glob["overview"]["requests"] == 3 * FILES


def test_the_same_problem_in_many_inputs_is_said_a_few_times(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(40):
        (folder / f"j{i:02d}.log").write_text(f"not a log line at all, number {i}\n")
    for i in range(2):
        (folder / f"e{i}.log").write_text("")
    code, _out, err = _cli("summary", str(folder / "*.log"))
    assert code == ExitCode.INPUT_INVALID  # the exit code of every problem, as before
    said = [ln for ln in err.splitlines() if ln.startswith("logaudit: ")]
    unrecognised = [ln for ln in said if ": log format not recognised" in ln]
    assert len(unrecognised) == PROBLEMS_SHOWN
    assert f"logaudit: ... and {40 - PROBLEMS_SHOWN} more inputs like this" in err
    assert sum("empty, nothing to read" in ln for ln in said) == 2  # under the cap: all said
    assert len(said) == PROBLEMS_SHOWN + 1 + 2


def test_accumulator_holds_few_frames_of_many_small_partials() -> None:
    """Thousands of one-row partials: memory stays a bounded number of frames per table,
    and the result is the merge of them all."""
    tables = {
        "hits": Table("hits", lambda c, s: c),
        "seen": Table("seen", lambda c, s: c, kind="distinct"),
    }
    acc = Accumulator(tables)
    expected: dict = {}
    for i in range(3 * PENDING_FRAMES + 7):
        partial = {
            "hits": pd.DataFrame({"n": [1]}, index=pd.Index([f"k{i % 50}"], name="k")),
            "seen": pd.DataFrame({"x": [i]}, index=pd.Index([i % 70], dtype="uint64")),
        }
        acc.add(partial)
        expected = merge(expected, partial, tables) if expected else partial
        assert all(len(p) <= PENDING_FRAMES for p in acc.pending.values())
    got = acc.result()
    for name in tables:
        pd.testing.assert_frame_equal(got[name].sort_index(), expected[name].sort_index())


def test_bundles_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle is flushed at BUNDLE_BLOCKS blocks: the figures do not depend on where."""
    _write_files(tmp_path / "many", [4])
    pattern = str(tmp_path / "many" / "*.log")
    whole = _json("summary", pattern)
    monkeypatch.setattr(pipeline, "BUNDLE_BLOCKS", 7)
    cut = _json("summary", pattern)
    for key in ("overview", "sections", "inputs", "bad_lines"):
        assert whole[key] == cut[key], key
