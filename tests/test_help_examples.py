"""Every `--help` example that runs on the bundled sample logs works as written (issue #13: the
`trends --help` example once exited 8, because `--since 7d` is relative to today)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli
from tests.conftest import REPO


def _examples() -> list[tuple[str, list[str]]]:
    found = []
    for name, command in sorted(cli.commands.items()):
        for line in (command.help or "").splitlines():
            if not line.strip().startswith(f"logaudit {name} sample_logs"):
                continue
            words = shlex.split(line.strip())
            if words[:2] == ["logaudit", name] and any(
                w.startswith("sample_logs") for w in words
            ):
                found.append((name, words[1:]))
    return found


EXAMPLES = _examples()


def test_the_help_texts_have_sample_examples() -> None:
    assert len(EXAMPLES) >= 6, EXAMPLES


@pytest.mark.parametrize("args", [a for _, a in EXAMPLES], ids=lambda a: " ".join(a))
def test_help_example_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("LOGAUDIT_CONFIG", "/dev/null")
    # An example's -o file goes to the test's folder, not into the checkout.
    args = [str(tmp_path / Path(a).name) if i and args[i - 1] == "-o" else a
            for i, a in enumerate(args)]
    # A GeoIP folder that is not on this machine is only a note, not an error.
    r = CliRunner().invoke(cli, [*args, "--format", "json"] if "--format" not in args else args)
    assert r.exit_code == 0, (args, r.stderr, r.exception)
    assert not re.search(r"internal error|Traceback", r.stderr)


def test_no_input_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Issue #13: `logaudit summary` alone exited 3 (missing input) where usage errors are 2."""
    monkeypatch.setenv("LOGAUDIT_CONFIG", "/dev/null")
    r = CliRunner().invoke(cli, ["summary"])
    assert r.exit_code == 2 and "no input given" in r.stderr


def test_readme_json_example_matches_the_sample_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's JSON example shows the sample report's real figures."""
    import json

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("LOGAUDIT_CONFIG", "/dev/null")
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index('{"schema_version"') :]
    block = block[: block.index("```")]
    r = CliRunner().invoke(cli, ["summary", "sample_logs/", "--format", "json"])
    real = json.loads(r.stdout)
    head, rows = block.split('"sections"', 1)
    overview = real["overview"] | {"bad_lines": real["bad_lines"]["total"]}
    first = real["sections"][0]
    checked = 0
    for key, value in re.findall(r'"(\w+)": (\d+)', head):
        if key != "schema_version":
            assert overview[key] == int(value), key
            checked += 1
    for key, value in re.findall(r'"(\w+)": (\d+)', rows.split('"inputs"')[0]):
        assert (first | first["rows"][0])[key] == int(value), key
        checked += 1
    assert checked >= 10
