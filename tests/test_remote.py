"""Remote inputs over http(s): a local HTTP server on a free port serving the sample logs, read
as files are (gzip by magic bytes, globs over the server's index page, rotated sets oldest
first), and one-line errors for what is not there."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

from click.testing import CliRunner  # noqa: E402
from loglines import isolate  # noqa: E402

from logaudit import remote  # noqa: E402
from logaudit.cli import cli  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    for name in ("access.log", "access.log.1", "access.log.2.gz"):
        shutil.copy(SAMPLE / name, root / name)
    handler = functools.partial(_Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _summary(*args: str) -> dict[str, Any]:
    r = CliRunner().invoke(cli, ["summary", *args, "--format", "json", "--top", "0"])
    assert r.exit_code == 0, (r.stderr, r.exception)
    data: dict[str, Any] = json.loads(r.stdout)
    data.pop("generated")
    return data


def test_http_glob_reads_like_the_files(server: str) -> None:
    remote_run = _summary(f"{server}/access.log*")
    names = [i["file"] for i in remote_run["inputs"]]
    # Oldest first, as for the files on disk.
    assert names == [f"{server}/access.log.2.gz", f"{server}/access.log.1", f"{server}/access.log"]
    local = _summary(*(str(SAMPLE / n) for n in ("access.log", "access.log.1", "access.log.2.gz")))
    assert remote_run["overview"] == local["overview"]
    assert remote_run["sections"] == local["sections"]
    # The bad-line examples are the same lines, named by URL.
    def unnamed(run: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "file"} for e in run["bad_lines"]["examples"]]

    assert unnamed(remote_run) == unnamed(local) != []


def test_missing_object_is_one_line_exit_3(server: str) -> None:
    r = CliRunner().invoke(cli, ["summary", f"{server}/nothing.log"])
    assert r.exit_code == 3
    assert r.stderr == f"logaudit: error: {server}/nothing.log: no such object\n"


def test_unknown_scheme_is_one_line_exit_3() -> None:
    r = CliRunner().invoke(cli, ["summary", "ftp2://host/x.log"])
    assert r.exit_code == 3
    assert r.stderr.startswith("logaudit: error: ftp2://host/x.log: unknown URL scheme ftp2://")
    assert r.stderr.count("\n") == 1


def test_scheme_detection() -> None:
    assert remote.is_url("s3://b/k") and remote.is_url("HTTPS://h/x")
    assert not remote.is_url("access.log") and not remote.is_url("/var/log/a.log")
    assert remote.is_url("file:///var/log/a.log")  # refused as unknown, below
    assert not remote.is_url("C:\\logs\\a.log")


def test_password_in_url_is_refused_without_echoing_it() -> None:
    r = CliRunner().invoke(cli, ["summary", "https://alice:s3cret@logs.example/a.log"])
    assert r.exit_code == 2
    assert "s3cret" not in r.stderr and r.stderr.count("\n") == 1
    assert "a user name or password in a URL is refused" in r.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [["summary"], ["summary", "--state", "STATE"], ["watch"], ["records", "--follow"]],
)
def test_a_user_name_in_a_url_is_refused_without_echoing_it(
    command: list[str], tmp_path: Path
) -> None:
    """A token given as the URL's user name (no password) was asked for, and a URL that cannot
    be read is named in the report's inputs and warnings, on stderr and in the digest's mail:
    the token was printed (a review of qafix23a). Refused first, as a password is, under
    --state and by watch too, whose own refusals name the URL."""
    url = f"http://tok3n@127.0.0.1:{_free_port()}/a.log"
    out = tmp_path / "r.json"
    args = [str(tmp_path / "state") if a == "STATE" else a for a in command]
    r = CliRunner().invoke(cli, [*args, str(SAMPLE / "access.log"), url, "-o", str(out)]
                           if command[0] == "summary" else [*args, str(SAMPLE / "access.log"), url])
    assert r.exit_code == 2, r.stderr
    assert "tok3n" not in r.stderr + r.stdout and r.stderr.count("\n") == 1
    assert r.stderr == (
        "logaudit: error: http://...: a user name or password in a URL is refused (it would be "
        "shown wherever the input is named); give credentials the service's usual way (its "
        "profile, environment variables or credential files)\n"
    )
    assert not out.exists() and not (tmp_path / "state").exists()


def test_a_refused_connection_is_said_not_no_such_object() -> None:
    """QA21 #9: nothing listening said "no such object" (fsspec's http raises
    FileNotFoundError for every failure)."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = CliRunner().invoke(cli, ["summary", f"http://127.0.0.1:{port}/a.log"])
    assert r.exit_code == 3
    assert r.stderr == (
        f"logaudit: error: http://127.0.0.1:{port}/a.log: cannot connect: connection refused\n"
    )


def test_file_url_is_an_unknown_scheme_not_a_missing_file(tmp_path: Path) -> None:
    """QA21 #9: file:///existing.log said "no such file" (read as a path named "file:...");
    no doc promises file://, so it is refused as memory:// and ftp:// are."""
    log = tmp_path / "a.log"
    shutil.copy(SAMPLE / "access.log", log)
    r = CliRunner().invoke(cli, ["summary", f"file://{log}"])
    assert r.exit_code == 3
    assert f"file://{log}: unknown URL scheme file://" in r.stderr
    assert r.stderr.count("\n") == 1


def _free_port() -> int:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("name", ["*.log", "logs/"])
def test_a_refused_glob_or_folder_says_cannot_connect_as_one_object(name: str) -> None:
    """A glob or folder on a refused server said aiohttp's "cannot list: Cannot connect to
    host ... [Connect call failed ...]", one object "cannot connect: connection refused"
    (rev21-e #6): one wording."""
    url = f"http://127.0.0.1:{_free_port()}/{name}"
    r = CliRunner().invoke(cli, ["summary", url])
    assert r.exit_code == 3
    assert r.stderr == f"logaudit: error: {url}: cannot connect: connection refused\n"


def test_a_timeout_is_worded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A timeout has no errno nor text: it read "cannot connect: timeouterror"."""

    class Slow:
        def info(self, path: str) -> dict[str, Any]:
            try:
                raise TimeoutError
            except TimeoutError as e:
                raise FileNotFoundError(path) from e

        def glob(self, path: str, detail: bool) -> dict[str, Any]:
            raise TimeoutError

    monkeypatch.setattr(remote, "_filesystem", lambda url: (Slow(), url))
    for url in ("http://h/a.log", "http://h/*.log"):
        with pytest.raises(remote.InputMissingError) as e:
            remote.expand(url)
        assert str(e.value) == f"{url}: cannot connect: timed out"


def test_a_url_named_twice_is_read_once_and_said(server: str) -> None:
    """Dropped in silence, where a file named twice is said (rev21-e #6)."""
    url = f"{server}/access.log"
    r = CliRunner().invoke(cli, ["summary", url, url, "--format", "json", "--top", "0"])
    assert r.exit_code == 0, r.stderr
    assert r.stderr.startswith(f"logaudit: {url}: named twice: read once\n"), r.stderr
    data = json.loads(r.stdout)
    data.pop("generated")
    assert data.pop("warnings") == [f"{url}: named twice: read once"]
    once = _summary(url)
    once.pop("warnings")
    assert data == once


class _Forbidden(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the base's name
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def test_a_forbidden_url_says_access_denied_and_the_others_are_reported(server: str) -> None:
    """A 403 read "no such object" (fsspec's http says FileNotFoundError for any failure), a
    glob "cannot list: 403, message='Forbidden', url=..."; and either aborted the run (QA23 F1)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Forbidden)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        args = [f"{server}/access.log", f"{base}/a.log", f"{base}/*.log"]
        r = CliRunner().invoke(cli, ["summary", *args, "--format", "json", "--top", "0"])
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.exit_code == 3
    assert r.stderr.startswith(
        f"logaudit: {base}/a.log: access denied (403 Forbidden)\n"
        f"logaudit: {base}/*.log: access denied (403 Forbidden)\n"
    ), r.stderr
    data = json.loads(r.stdout)
    assert [i["file"] for i in data["inputs"]] == args
    assert data["overview"]["requests"] == _summary(f"{server}/access.log")["overview"]["requests"]


def test_a_bare_403_is_told_apart_by_one_listing_only_when_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3 answers a HEAD with a bare 403 for a refused key and a denied one alike; one
    listing tells which. A glob's own listing says it already: no second request."""

    class Refused(Exception):
        response = {"Error": {"Code": "InvalidAccessKeyId"}}

    def refuse(message: str) -> NoReturn:  # as s3fs does: translated while handling it
        try:
            raise Refused("An error occurred (InvalidAccessKeyId)")
        except Refused:
            raise PermissionError(message)  # noqa: B904 - s3fs's way: the code in __context__

    listed: list[str] = []

    class Store:
        def info(self, path: str) -> dict[str, Any]:
            raise PermissionError("Forbidden")

        def ls(self, path: str, detail: bool) -> NoReturn:
            listed.append(path)
            refuse("The AWS Access Key Id you provided does not exist")

        def glob(self, path: str, detail: bool) -> NoReturn:
            refuse("The AWS Access Key Id you provided does not exist")

    monkeypatch.setattr(remote, "_filesystem", lambda url: (Store(), url))
    for url, asked in (("s3://b/a.log", ["s3://b/a.log"]), ("s3://b/*.log", [])):
        listed.clear()
        with pytest.raises(remote.Unreadable) as e:
            remote.expand(url)
        why = "credentials refused (The AWS Access Key Id you provided does not exist)"
        assert e.value.why == why
        assert listed == asked
