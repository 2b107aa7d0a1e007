"""A URL input that cannot be read (no such object, no match, a server that refuses, credentials
missing or refused) is one input said in one line, as a missing path is: the other inputs are
reported and the exit code is 3 (QA23 F1: one such URL aborted the run, exit 3, no report).

S3 is moto's server mode on a free localhost port, as tests/test_dask.py runs it; the Dask
engine's case is in tests/test_dask.py (it needs the module's cluster).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from click.testing import CliRunner  # noqa: E402
from loglines import isolate  # noqa: E402

from logaudit.cli import cli  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs"
BUCKET = "qa-logs"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # No credentials asked of an EC2 metadata service that is not there (seconds of retries).
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Every command that takes inputs, with a JSON format.
COMMANDS = ["summary", "trends", "problems", "records", "visits", "visitors", "digest", "privacy"]


def _forget_filesystems() -> None:
    """fsspec keeps one S3 filesystem per process, with the credentials and endpoint it was
    made with: one made for another server (test_dask's) or other credentials is not reused."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A moto S3 server holding the sample access.log as web/access.log; its bucket's URL."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in [*AWS, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS, AWS_ENDPOINT_URL=f"http://{host}:{port}")
    _forget_filesystems()
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(
        Bucket=BUCKET, Key="web/access.log", Body=(SAMPLE / "access.log").read_bytes()
    )
    yield f"s3://{BUCKET}"
    server.stop()
    _forget_filesystems()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _invoke(command: str, *args: str) -> tuple[int, str, str]:
    fmt = ["--format", "jsonl"] if command == "records" else ["--format", "json", "--top", "0"]
    r = CliRunner().invoke(cli, [command, *args, *fmt])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def _report(stdout: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stdout)
    data.pop("generated")
    return data


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_object_is_said_and_the_others_reported_as_for_a_missing_path(
    command: str, s3: str, tmp_path: Path
) -> None:
    """The same report and exit code as with a missing local file in its place: only the
    missing input's name and reason differ."""
    present, gone_url = f"{s3}/web/access.log", f"{s3}/web/nosuch.log"
    gone_path = str(tmp_path / "nosuch.log")
    code, out, err = _invoke(command, present, gone_url)
    local_code, local_out, local_err = _invoke(command, present, gone_path)
    assert code == local_code == 3, (err, local_err)
    assert f"logaudit: {gone_url}: no such object\n" in err
    assert err.count(gone_url) == 1 and "Traceback" not in err
    assert out, "a report is written"

    def unnamed(text: str, name: str, why: str) -> str:
        return text.replace(f"{name}: {why}", "<gone>").replace(name, "<gone>")

    if command == "records":
        assert out == local_out
    else:
        url_run = unnamed(json.dumps(_report(out)), gone_url, "no such object")
        path_run = unnamed(json.dumps(_report(local_out)), gone_path, "no such file")
        assert url_run == path_run
        assert _report(out)["inputs"][0]["lines"] > 0  # (the digest's yesterday: no request)


def test_each_reason_kept_in_one_line_and_the_rest_reported(s3: str) -> None:
    refused = f"http://127.0.0.1:{_free_port()}/a.log"
    unread = {
        f"{s3}/web/nosuch.log": "no such object",
        f"{s3}/web/*.gz": "no object matches",
        "s3://no-such-bucket/a.log": "no such object",
        "s3://no-such-bucket/web/*.log": "no such bucket",  # it said "no object matches"
        refused: "cannot connect: connection refused",
        "ftp2://host/a.log": "unknown URL scheme ftp2://",
    }
    code, out, err = _invoke("summary", str(SAMPLE / "access.log"), *unread)
    assert code == 3
    lines = err.splitlines()
    for url, why in unread.items():
        (line,) = [s for s in lines if s.startswith(f"logaudit: {url}: ")]
        assert line.startswith(f"logaudit: {url}: {why}")
    report = _report(out)
    assert [i["file"] for i in report["inputs"]] == [str(SAMPLE / "access.log"), *unread]
    assert (
        report["overview"]["requests"]
        == _report(_invoke("summary", str(SAMPLE / "access.log"))[1])["overview"]["requests"]
        > 0
    )


def test_every_url_missing_is_as_every_path_missing(s3: str, tmp_path: Path) -> None:
    code, out, err = _invoke("summary", f"{s3}/web/nosuch.log", f"{s3}/web/*.gz")
    local = _invoke("summary", str(tmp_path / "a.log"), str(tmp_path / "b.log"))
    assert (code, out) == (local[0], local[1]) == (3, "")
    assert err == f"logaudit: error: {s3}/web/nosuch.log: no such object\n"
    assert local[2] == f"logaudit: error: {tmp_path / 'a.log'}: no such file\n"


def test_jobs_2_reports_the_others(s3: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    shutil.copy(SAMPLE / "access.log", log)
    code, out, err = _invoke("summary", str(log), f"{s3}/web/nosuch.log", "--jobs", "2")
    assert code == 3
    assert f"logaudit: {s3}/web/nosuch.log: no such object\n" in err
    local = _report(_invoke("summary", str(log), str(tmp_path / "nosuch.log"), "--jobs", "2")[1])
    report = _report(out)
    assert report["overview"] == local["overview"] and report["sections"] == local["sections"]
    assert report["overview"]["requests"] > 0


@pytest.mark.parametrize("command", [["summary"], ["digest"], ["state", "rebuild"]])
@pytest.mark.parametrize("name", ["found", "missing", "down"])
def test_a_url_under_state_is_wrong_usage_found_or_not_and_nothing_is_asked(
    command: list[str], name: str, s3: str, tmp_path: Path
) -> None:
    """--state comes back to a file by its inode and offset: a URL naming an object was exit
    2, a missing one exit 3 and a report, and the "next run tries it again" the docs promised
    then ended in exit 2 (a review of qafix23a). Found or not, it is now exit 2, said before
    any request (a server that is down is not asked: it said "cannot connect", exit 3)."""
    url = {
        "found": f"{s3}/web/access.log",
        "missing": f"{s3}/web/nosuch.log",
        "down": f"http://127.0.0.1:{_free_port()}/a.log",
    }[name]
    log = tmp_path / "access.log"
    shutil.copy(SAMPLE / "access.log", log)
    state = tmp_path / "state"
    r = CliRunner().invoke(cli, [*command, str(log), url, "--state", str(state)])
    assert r.exit_code == 2, r.stderr
    assert r.stderr == (
        f"logaudit: error: --state reads local files only: {url} is a URL (copy the logs to "
        "local files, or run without --state)\n"
    )
    assert r.stdout == "" and not state.exists()


def test_a_url_under_the_configs_state_is_wrong_usage_too(
    s3: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The store named by LOGAUDIT_STATE (or the config) is --state as the option is."""
    state = tmp_path / "state"
    monkeypatch.setenv("LOGAUDIT_STATE", str(state))
    url = f"{s3}/web/nosuch.log"
    code, out, err = _invoke("summary", str(SAMPLE / "access.log"), url)
    assert code == 2 and f"--state reads local files only: {url} is a URL" in err
    assert out == "" and not state.exists()


def test_no_credentials_is_one_line_naming_where_they_are_looked_for(
    s3: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    _forget_filesystems()
    try:
        code, out, err = _invoke("summary", str(SAMPLE / "access.log"), f"{s3}/web/access.log")
    finally:
        _forget_filesystems()
    assert code == 3
    assert err.startswith(
        f"logaudit: {s3}/web/access.log: no credentials found (Unable to locate credentials; "
        "give the AWS profile or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n"
    ), err
    assert "Traceback" not in err
    assert _report(out)["overview"]["requests"] > 0


@pytest.mark.parametrize("name", ["web/access.log", "web/", "web/*.log"])
def test_refused_credentials_are_one_line_for_an_object_a_folder_or_a_glob(
    name: str, s3: str
) -> None:
    """The test key is unknown once moto checks credentials. A single object's HEAD request
    gets a bare 403 ("Forbidden"), which read "permission denied (Forbidden)"."""
    from moto.core import enable_iam_authentication

    url = f"{s3}/{name}"
    _forget_filesystems()
    try:
        with enable_iam_authentication():
            code, out, err = _invoke("summary", str(SAMPLE / "access.log"), url)
    finally:
        _forget_filesystems()
    assert code == 3
    assert err.startswith(
        f"logaudit: {url}: credentials refused (The AWS Access Key Id you provided does not "
        "exist in our records.)\n"
    ), err
    assert _report(out)["overview"]["requests"] > 0


@pytest.mark.parametrize(
    ("command", "what"), [(["watch"], "watch"), (["records", "--follow"], "--follow")]
)
@pytest.mark.parametrize("name", ["web/access.log", "web/nosuch.log", "down"])
@pytest.mark.parametrize("alone", [False, True])
def test_a_url_to_follow_is_wrong_usage_named(
    command: list[str], what: str, name: str, alone: bool, s3: str
) -> None:
    """Only files are followed: a URL, found or not, alone or with a file, is exit 2 naming it,
    before any request (it said "name them, not -"; a missing one aborted with exit 3 before
    the usage was looked at, and URLs alone that could not be read were still exit 3, after
    waiting for a server that does not answer: a review of qafix23a)."""
    url = f"http://127.0.0.1:{_free_port()}/a.log" if name == "down" else f"{s3}/{name}"
    files = [] if alone else [str(SAMPLE / "access.log")]
    r = CliRunner().invoke(cli, [*command, *files, url])
    assert r.exit_code == 2
    assert r.stderr == f"logaudit: error: {what} follows files: name them, not {url}, a URL\n"
