"""The Dask engine and remote inputs: the same JSON as the single process, from local files and
from an S3-compatible server (moto, started here on a free localhost port), with a worker
killed mid-run; one-line messages for a missing extra and an unreachable scheduler.

One LocalCluster of two worker processes serves the module; it is started after the S3
server so the workers inherit AWS_ENDPOINT_URL, as a user's workers would from their
environment.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from click.testing import CliRunner  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

from logaudit import api, samplegen, sources  # noqa: E402
from logaudit.analyze import tables_for  # noqa: E402
from logaudit.cli import cli  # noqa: E402
from logaudit.config import load  # noqa: E402
from logaudit.engine import dask as dask_engine  # noqa: E402
from logaudit.engine import local as pipeline  # noqa: E402
from logaudit.render.tabular import render_json  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs"
BUCKET = "acme-logs"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A moto S3 server on a free port, holding the sample rotated set gzipped under web/2026/
    and a plain log under plain/."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in [*AWS, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS, AWS_ENDPOINT_URL=f"http://{host}:{port}")
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    for p in sorted(SAMPLE.glob("access.log*")):
        data = p.read_bytes()
        if not p.name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
            key = f"web/2026/{p.name}.gz"
        else:
            key = f"web/2026/{p.name}"
        client.put_object(Bucket=BUCKET, Key=key, Body=data)
    client.put_object(Bucket=BUCKET, Key="web/notes.txt", Body=b"not matched by the glob\n")
    plain = (SAMPLE / "access.log").read_bytes()
    client.put_object(Bucket=BUCKET, Key="plain/access.log", Body=plain)
    yield BUCKET
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[str]:
    try:
        request.getfixturevalue("s3")  # first: the workers inherit its AWS_ENDPOINT_URL
    except pytest.skip.Exception:
        pass  # without s3fs or moto the S3 tests skip; the others still run
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as c:
        yield c.scheduler_address


def _json(
    command: str,
    args: list[str],
    engine: str,
    scheduler: str | None = None,
    sections: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    overrides: dict[str, Any] = {"top": 0, "engine": engine, "dask_scheduler": scheduler}
    overrides.update(extra)
    settings = load(overrides, env={"LOGAUDIT_CONFIG": os.devnull})
    outcome = api.report(command, args, settings, sections=sections)
    assert outcome.report is not None, outcome.messages
    buf = io.StringIO()
    render_json(outcome.report, buf)
    data: dict[str, Any] = json.loads(buf.getvalue())
    data.pop("generated")
    data["exit_code"] = int(outcome.exit_code)
    data["messages"] = outcome.messages
    return data


@pytest.mark.parametrize("command", list(api.COMMANDS))
def test_every_command_same_json_as_one_process(command: str, cluster: str) -> None:
    logs = [str(SAMPLE / "weeks")]
    local = _json(command, logs, "local")
    dask = _json(command, logs, "dask", cluster)
    assert local["sections"], "the report has sections"
    assert dask == local


def test_run_needing_no_agents_same_json_as_one_process(cluster: str) -> None:
    """Workers classify only as far as the run needs (issue 18): with --bots include and
    sections that need no agents, the overview's robot counts are null in both engines."""
    logs = [str(SAMPLE / "weeks")]
    chosen = ("pages", "status", "hosts")
    local = _json("summary", logs, "local", sections=chosen, bots="include")
    dask = _json("summary", logs, "dask", cluster, sections=chosen, bots="include")
    assert dask == local
    assert local["overview"]["crawler_hits"] is None and local["overview"]["tool_hits"] is None
    assert local["overview"]["requests"] > 0


def test_one_input_one_task(cluster: str) -> None:
    args = [str(SAMPLE / "access.log")]
    assert _json("summary", args, "dask", cluster) == _json("summary", args, "local")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five files: three plain (one big enough to be cut into ranges), two gzip, bad lines in
    the big one so line numbers across ranges are checked."""
    d = tmp_path_factory.mktemp("gen")
    for i, (n, bad) in enumerate([(4000, 0), (20000, 12), (3000, 0)]):
        with open(d / f"web{i}.log", "wb") as f:
            samplegen.write_lines(f, n, seed=100 + i, bad_lines=bad)
    for i in (3, 4):
        buf = io.BytesIO()
        samplegen.write_lines(buf, 2500, seed=100 + i)
        (d / f"web{i}.log.gz").write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    return d


def test_generated_multi_file_log_split_in_ranges(
    generated: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 256 KiB in both engines: the 20k-line file is cut into ~20 ranges.
    small = 256 * 1024
    real = pipeline.read_blocks
    monkeypatch.setattr(pipeline, "read_blocks", lambda i, s, **kw: real(i, s, small, **kw))
    monkeypatch.setattr(dask_engine, "BLOCK_BYTES", small)
    monkeypatch.setattr(dask_engine, "FAN_IN", 3)  # a deeper tree than the inputs need
    # ... stopped where a merge would cover more than 5 blocks: several tops, some of them
    # merges and some lone read results, for the client's root merge
    monkeypatch.setattr(dask_engine, "MERGE_BYTES", 5 * small)
    args = [str(p) for p in sorted(generated.iterdir())]
    for command in ("summary", "visits", "problems"):
        local = _json(command, args, "local")
        dask = _json(command, args, "dask", cluster)
        assert dask == local
    assert local["overview"]["bad_lines"] >= 10
    assert len(local["bad_lines"]["examples"]) >= 5
    spans = [dask_engine._splits(i, small) for i in api.open_inputs(args)]
    assert spans[3] is None and spans[4] is None  # gzip: read whole
    assert spans[1] is not None and len(spans[1]) > 10


def test_merge_groups_are_neighbours_bounded_by_fan_in_and_input_bytes() -> None:
    groups = dask_engine.groups
    assert groups([1] * 7, 3, 100) == [[0, 1, 2], [3, 4, 5], [6]]
    assert groups([4, 4, 4, 9, 1, 1], 8, 10) == [[0, 1], [2], [3, 4], [5]]
    assert groups([20, 1, 1, 20], 8, 10) == [[0], [1, 2], [3]]  # too big: alone
    assert groups([], 8, 10) == []
    # the tree stops when no two neighbours fit together
    assert groups([6, 6, 6], 8, 10) == [[0], [1], [2]]


def test_merge_tree_levels_stop_at_merge_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_engine, "FAN_IN", 2)
    monkeypatch.setattr(dask_engine, "MERGE_BYTES", 4)
    tree = dask_engine.levels([1] * 9)
    assert tree == [
        [[0, 1], [2, 3], [4, 5], [6, 7], [8]],
        [[0, 1], [2, 3], [4]],  # merges of 4 bytes of input: the most a worker merges
    ]
    assert dask_engine.levels([5, 5]) == []  # each read alone is over: straight to the client


def test_shipped_partial_crosses_the_network_compressed() -> None:
    from distributed.protocol import deserialize, serialize

    paths = [f"/p{i % 900}" for i in range(50_000)]
    frame = pd.DataFrame({"hits": np.arange(50_000) % 7}, index=paths)
    header, frames = serialize((dask_engine.Shipped({"paths": frame}), "meta"))
    back = deserialize(header, frames)
    assert isinstance(back[0], dask_engine.Shipped) and back[1] == "meta"
    pd.testing.assert_frame_equal(back[0].partial["paths"], frame)
    shipped = sum(len(memoryview(f)) for f in frames)
    assert shipped < len(pickle.dumps({"paths": frame})) / 3


def test_block_spans_are_the_readers_blocks(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    with open(p, "wb") as f:
        samplegen.write_lines(f, 3000, seed=7)
    inp = api.open_inputs([str(p)])[0]
    for block in (1000, 4096, 65536, 100_000):
        blocks = list(sources.read_blocks(inp, sources.ReadState(), block))
        with open(p, "rb") as f:
            spans = dask_engine.block_spans(f, p.stat().st_size, block)
        assert [len(b.data) for b in blocks] == [e - s for s, e in spans]


def test_s3_glob_gzip_objects_local_and_dask(s3: str, cluster: str) -> None:
    url = f"s3://{s3}/web/**/access.log*.gz"
    local = _json("summary", [url], "local")
    dask = _json("summary", [url], "dask", cluster)
    assert dask == local
    files = _json("summary", [str(p) for p in sorted(SAMPLE.glob("access.log*"))], "local")
    # The same lines as the local files: every figure but the inputs' names agrees.
    assert local["overview"]["requests"] == files["overview"]["requests"] > 0
    # A rotated set in S3 is read oldest first, as on disk; notes.txt is not matched.
    names = [i["file"] for i in local["inputs"]]
    base = f"s3://{s3}/web/2026/access.log"
    assert names == [f"{base}.3.gz", f"{base}.2.gz", f"{base}.1.gz", f"{base}.gz"]


def test_s3_plain_object_cut_into_ranged_reads(
    s3: str, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = 64 * 1024
    real = pipeline.read_blocks
    monkeypatch.setattr(pipeline, "read_blocks", lambda i, s, **kw: real(i, s, small, **kw))
    monkeypatch.setattr(dask_engine, "BLOCK_BYTES", small)
    url = f"s3://{s3}/plain/access.log"
    (inp,) = api.open_inputs([url])
    spans = dask_engine._splits(inp, small)
    assert spans is not None and len(spans) > 5 and spans[-1][1] == inp.size
    assert _json("summary", [url], "dask", cluster) == _json("summary", [url], "local")


def test_s3_missing_object_reported_with_its_url(s3: str) -> None:
    r = CliRunner().invoke(cli, ["summary", f"s3://{s3}/web/nothing/*.gz"])
    assert r.exit_code == 3
    assert r.stderr.strip() == f"logaudit: error: s3://{s3}/web/nothing/*.gz: no object matches"


def test_s3_missing_object_among_others_is_said_and_the_rest_reported(
    s3: str, cluster: str
) -> None:
    """QA23 F1: one missing object (or a server that refuses) aborted the run, no report;
    now it is one line, as a missing path, and the rest is reported by both engines."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/a.log"
    args = [f"s3://{s3}/plain/access.log", f"s3://{s3}/web/nothing.log", refused]
    local = _json("summary", args, "local")
    dask = _json("summary", args, "dask", cluster)
    assert dask == local
    assert local["exit_code"] == 3 and local["overview"]["requests"] > 0
    assert local["messages"][:2] == [
        f"s3://{s3}/web/nothing.log: no such object",
        f"{refused}: cannot connect: connection refused",
    ]


class _KillOnce(WorkerPlugin):
    """Kills the first worker that starts a read task (the process dies mid-task)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kw: Any) -> None:
        if finish == "executing" and "_read_task" in str(key):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(1)


def test_worker_killed_mid_run_costs_a_retry(generated: Path, tmp_path: Path) -> None:
    args = [str(p) for p in sorted(generated.iterdir())]
    local = _json("summary", args, "local")
    marker = tmp_path / "killed"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        as c,
        Client(c) as client,
    ):
        client.register_plugin(_KillOnce(str(marker)))
        dask = _json("summary", args, "dask", c.scheduler_address)
    assert marker.exists(), "a worker was killed"
    assert dask == local


def test_missing_dask_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    r = CliRunner().invoke(cli, ["summary", str(SAMPLE / "access.log"), "--engine", "dask"])
    assert r.exit_code == 7
    assert r.stderr == (
        "logaudit: error: --engine dask needs the optional package distributed: "
        "pip install 'logaudit[dask]'\n"
    )


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [("s3://b/x.log.gz", "s3fs", "s3"), ("gs://b/*.gz", "gcsfs", "gcs")],
)
def test_missing_storage_extra_is_one_line(
    url: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    r = CliRunner().invoke(cli, ["summary", url])
    assert r.exit_code == 7
    assert r.stderr.count("\n") == 1
    assert f"pip install 'logaudit[{extra}]'" in r.stderr


def test_unreachable_scheduler_is_one_line_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once closed
    addr = f"tcp://127.0.0.1:{port}"
    r = CliRunner().invoke(cli, ["summary", str(SAMPLE / "access.log"), "--scheduler", addr])
    assert r.exit_code == 3
    assert r.stderr.startswith(f"logaudit: error: dask scheduler {addr}: unreachable")
    assert r.stderr.count("\n") == 1


def test_unknown_engine_in_config_is_one_line() -> None:
    r = CliRunner().invoke(
        cli, ["summary", str(SAMPLE / "access.log")], env={"LOGAUDIT_ENGINE": "spark"}
    )
    assert r.exit_code == 7
    assert "env LOGAUDIT_ENGINE: engine = \"spark\": not an engine (known: local, dask)" in r.stderr


def test_progress_counts_every_input_byte_from_the_cluster(
    generated: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_engine, "BLOCK_BYTES", 256 * 1024)
    inputs = api.open_inputs([str(p) for p in sorted(generated.iterdir())])
    settings = load({"engine": "dask", "dask_scheduler": cluster}, env={})
    seen: list[int] = []
    r = dask_engine.run(inputs, settings, tables_for(("status",)), on_progress=seen.append)
    assert sum(seen) == sum(i.size for i in inputs)
    assert len(seen) > len(inputs)  # the big files advance a block at a time
    # Line counts of the ranges add up to their files' (samplegen writes exactly n lines).
    assert r.lines[inputs[1].name] == 20000
    assert sum(r.lines.values()) == 4000 + 20000 + 3000 + 2 * 2500


def test_geoip_files_travel_in_the_plugin_when_filters_need_them(tmp_path: Path) -> None:
    from logaudit.filters import Filters

    geo = tmp_path / "geo"
    geo.mkdir()
    (geo / "GeoLite2-Country.mmdb").write_bytes(b"not really a database")
    settings = load({"geoip_dir": geo}, env={})
    assert dask_engine._geo_files(settings) == {}  # no filter needs places on the workers
    wants = load({"geoip_dir": geo, "extra": {"filters": Filters(keep={"country": ("FR",)})}},
                 env={})
    files = dask_engine._geo_files(wants)
    assert files == {"GeoLite2-Country.mmdb": b"not really a database"}
    # A worker without the client's folder gets the files in a folder of its own.
    gone = replace(wants, geoip_dir=tmp_path / "not-on-this-worker")
    plugin = dask_engine.Setup("t-geo", gone, {}, files)
    plugin.setup()
    try:
        folder = dask_engine._state["t-geo"][0].geoip_dir
        assert folder is not None and folder != gone.geoip_dir
        assert (Path(folder) / "GeoLite2-Country.mmdb").read_bytes() == b"not really a database"
    finally:
        plugin.teardown()
    assert "t-geo" not in dask_engine._state


def test_stdin_blocks_are_shipped_from_the_client(cluster: str) -> None:
    data = (SAMPLE / "access.log").read_bytes()
    out = {}
    for engine_args in ([], ["--scheduler", cluster]):
        r = CliRunner().invoke(
            cli, ["summary", "-", "--format", "json", "--top", "0", *engine_args], input=data
        )
        assert r.exit_code == 0, (r.stderr, r.exception)
        d = json.loads(r.stdout)
        d.pop("generated")
        out[bool(engine_args)] = d
    assert out[True] == out[False]
    assert out[True]["inputs"][0]["file"] == "<stdin>"


def test_engine_settings_from_env_config_and_options(tmp_path: Path) -> None:
    env = {"LOGAUDIT_CONFIG": os.devnull, "LOGAUDIT_DASK_SCHEDULER": "tcp://10.0.0.5:8786"}
    s = load({}, env=env)
    # The variable names the scheduler; it does not switch engines by itself.
    assert (s.engine, s.dask_scheduler) == ("local", "tcp://10.0.0.5:8786")
    conf = tmp_path / "logaudit.toml"
    conf.write_text('engine = "dask"\ndask_workers = 3\n')
    s = load({}, env={"LOGAUDIT_CONFIG": str(conf)})
    assert (s.engine, s.dask_workers, s.dask_scheduler) == ("dask", 3, None)
    r = CliRunner().invoke(
        cli, ["summary", str(SAMPLE / "access.log"), "--engine", "local", "--workers", "2"]
    )
    assert r.exit_code == 2 and "--scheduler and --workers go with --engine dask" in r.stderr


def test_stdin_nul_runs_are_shipped_with_their_blocks(cluster: str) -> None:
    """NUL runs the client takes out of stdin's blocks travel with them: the dask engine
    counts them as the local one does (9f685ae rebuilt each block without them: no run
    counted, no warning, no example, and --strict did not exit 6)."""
    data = (SAMPLE / "access.log").read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    data = b"\x00" * 5000 + data[:cut] + b"\x00" * 3 + data[cut:]
    out = {}
    for engine_args in ([], ["--scheduler", cluster]):
        r = CliRunner().invoke(
            cli,
            ["summary", "-", "--format", "json", "--top", "0", "--strict", *engine_args],
            input=data,
        )
        assert r.exit_code == 6, (r.stderr, r.exception)
        assert "bad lines and 2 runs of NUL bytes\n" in r.stderr
        d = json.loads(r.stdout)
        d.pop("generated")
        out[bool(engine_args)] = d
    assert out[True] == out[False]
    assert out[True]["inputs"][0]["nul_runs"] == 2


def test_a_w3c_log_whose_fields_change_reads_as_in_one_process(
    tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker read every block of a whole-file task (a .gz) under the head's #Fields: the
    # lines after a changed header were bad lines (77,255 requests of 120,000, a reviewer's).
    def header(fields: str, day: str) -> str:
        return (
            "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
            f"#Date: {day} 00:00:00\n#Fields: {fields}\n"
        )

    a = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status time-taken"  # noqa: E501
    b = "date time c-ip cs-method cs-uri-stem sc-status time-taken sc-bytes cs(User-Agent)"
    text = header(a, "2026-12-01") + "".join(
        f"2026-12-01 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} 10.0.0.1 GET /a{i % 7}.html"
        f" - 80 - 192.0.2.{i % 50} Mozilla/5.0+(X11) - 200 {i % 1000}\n"
        for i in range(3000)
    )
    text += header(b, "2026-12-02") + "".join(
        f"2026-12-02 {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} 198.51.100.{i % 50} POST"
        f" /b{i % 5}.php 404 {i % 900} {1000 + i % 77} curl/8.{i % 3}\n"
        for i in range(9000)
    )
    log = tmp_path / "u.log.gz"
    log.write_bytes(gzip.compress(text.encode()))
    # Several blocks in the worker's one task (the size is sent with the task).
    monkeypatch.setattr(dask_engine, "BLOCK_BYTES", 64 * 1024)
    local = _json("summary", [str(log)], "local")
    dask = _json("summary", [str(log)], "dask", cluster)
    assert local["overview"]["requests"] == 12_000
    assert dask == local
