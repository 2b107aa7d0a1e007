"""The store's size (schema 4): a day's keys stored once, as row numbers into the table that
holds them (store/layout.py, REFS); the figures stay those of one pass."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logaudit.errors import ConfigError, ExitCode
from logaudit.schema import hash_strings
from logaudit.store import layout as layout_module
from logaudit.store import manage
from logaudit.store.layout import (
    DIFFS_KEY,
    REFS,
    REFS_KEY,
    SCHEMA,
    STATE_FILE,
    Layout,
    _from_diffs,
    _from_refs,
    _to_diffs,
    _to_refs,
    pointing_into,
)
from tests.store_helpers import Server, figures, log_bytes, report

DATA = log_bytes(3000, days=3, bad=2)


def _line_end(data: bytes, frac: float) -> int:
    return data.index(b"\n", int(len(data) * frac)) + 1


def _one_pass(tmp: Path, data: bytes) -> dict:
    whole = tmp / "whole.log"
    whole.write_bytes(data)
    return figures(report([str(whole)]))


def _state(root: Path) -> dict:
    return json.loads((root / STATE_FILE).read_text())


def _refs_of(root: Path, day: str, info: dict, table: str) -> dict:
    meta = pq.ParquetFile(Layout(root).path(day, info, table)).schema_arrow.metadata or {}
    return json.loads(meta.get(REFS_KEY, b"{}"))


def test_columns_become_row_numbers_and_come_back() -> None:
    paths = pa.table({"hits": [3, 1, 2], "path": ["/a", "/b", "/c"]})
    hashes = hash_strings(np.array(["/c", "/a", "/c", "/b"], dtype=object))
    events = pa.table({"path_h": pa.array(hashes, pa.uint64())})
    stored, meta, _ = _to_refs(
        "pv_events", events, lambda t: (paths, "sum") if t == "paths" else None
    )
    assert stored.column("path_h").type == pa.int32()
    assert stored.column("path_h").to_pylist() == [2, 0, 2, 1]
    assert meta == {"path_h": ["paths", "path", True, "sum"]}
    stored = stored.replace_schema_metadata({REFS_KEY: json.dumps(meta)})
    back = _from_refs(
        stored,
        lambda t, sha, c, h: (paths[c], hash_strings(np.array(["/a", "/b", "/c"], dtype=object))),
    )
    assert back.column("path_h").to_numpy().tolist() == hashes.tolist()
    # A value its reference lacks, or a reference with a value twice: stored as it is.
    missing = pa.table({"path_h": pa.array([*hashes, 7], pa.uint64())})
    assert _to_refs("pv_events", missing, lambda t: (paths, "sum"))[1] == {}
    twice = pa.table({"path": ["/a", "/a", "/b", "/c"]})
    assert _to_refs("pv_events", events, lambda t: (twice, "sum"))[1] == {}
    # Text columns point into text columns of the same type.
    places = pa.table({"client": ["h:1", "h:2"]})
    visitors = pa.table({"client": ["h:2", "h:2", "h:1"], "agent": ["x", "y", "x"]})
    stored, meta, _ = _to_refs("visitors", visitors, lambda t: (places, "s"))
    back = _from_refs(
        stored.replace_schema_metadata({REFS_KEY: json.dumps(meta)}),
        lambda t, s, c, h: (places[c], places[c].to_numpy()),
    )
    assert back.column("client").to_pylist() == ["h:2", "h:2", "h:1"]


def test_times_become_differences_and_come_back() -> None:
    start = [1_772_496_001, 1_772_400_000, 5]
    rows = pa.table(
        {
            "start": start,
            "end": [1_772_496_901, 1_772_400_000, 7],
            "start_local": [s + 3600 for s in start],
        }
    )
    stored, done = _to_diffs("visit_rows", rows)
    assert done == {"end": "start", "start_local": "start"}
    assert stored.column("end").to_pylist() == [900, 0, 2]
    assert stored.column("start_local").to_pylist() == [3600] * 3
    back = _from_diffs(stored.replace_schema_metadata({DIFFS_KEY: json.dumps(done)}))
    assert back.equals(rows)
    # Near overflow: kept as they are.
    huge = pa.table({"start": [0], "end": [2**62], "start_local": [3600]})
    assert _to_diffs("visit_rows", huge)[1] == {"start_local": "start"}


def test_rewriting_a_reference_rewrites_what_points_into_it() -> None:
    assert {"visitors", "touch_events", "visitor_days", "trend_visitor_hours"} <= pointing_into(
        {"places"}
    )
    assert pointing_into({"paths"}) == {"pv_events", "path_visitor_counts", "pb_client_404"}
    # No reference column is itself stored as references (one read resolves any file).
    assert not {(r, c) for r, c, _ in REFS.values()} & set(REFS)


def test_stored_days_keep_keys_once_and_figures_equal_one_pass(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    for end in [_line_end(DATA, 0.25), _line_end(DATA, 0.5), _line_end(DATA, 0.8), len(DATA)]:
        server.write_to(end)
        stored = report(server.glob(), state)
        assert figures(stored) == _one_pass(tmp_path, DATA[:end])
        assert manage.verify(state) == []
    raw = _state(state)
    assert raw["schema"] == SCHEMA == 14
    closed = [(d, i) for d, i in sorted(raw["days"].items()) if i.get("closed")]
    assert closed
    for day, info in closed:
        for table in ("path_visitor_counts", "visitor_days", "touch_events", "pv_events"):
            refs = _refs_of(state, day, info, table)
            assert refs, (day, table)
            for column, (ref, _, _, sha) in refs.items():
                assert (table, column) in REFS
                assert info["files"][ref]["sha256"] == sha
        meta = pq.ParquetFile(Layout(state).path(day, info, "visit_rows")).schema_arrow.metadata
        assert json.loads(meta[DIFFS_KEY]) == {"end": "start", "start_local": "start"}
    # Read back alone (no log): the same figures.
    assert figures(report([], state)) == _one_pass(tmp_path, DATA)


def test_a_file_pointing_into_other_rows_is_refused_never_misread(tmp_path: Path) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    server.write_to(len(DATA))
    report(server.glob(), state)
    raw = _state(state)
    day, info = next((d, i) for d, i in sorted(raw["days"].items()) if i.get("closed"))
    assert _refs_of(state, day, info, "visitor_days")
    # Another generation of the day's visitors (as if a run had kept an old file).
    info["files"]["visitors"]["sha256"] = "0" * 64
    (state / STATE_FILE).write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as e:
        report([], state)
    assert e.value.exit_code == ExitCode.CONFIG == 7
    assert "is not the one it points into" in str(e.value)


def test_a_schema_3_store_is_read_and_written_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before references (every key in every table) reads as it did, and the
    days the next run writes store their keys once."""
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    half = _line_end(DATA, 0.6)
    server.write_to(half)
    with monkeypatch.context() as m:
        m.setattr(layout_module, "REFS", {})
        report(server.glob(), state)
    raw = _state(state)
    raw["schema"] = 3
    (state / STATE_FILE).write_text(json.dumps(raw))
    for day, info in raw["days"].items():
        for table in info["files"]:
            assert not _refs_of(state, day, info, table)
    assert figures(report([], state)) == _one_pass(tmp_path, DATA[:half])
    server.write_to(len(DATA))
    stored = report(server.glob(), state)
    assert figures(stored) == _one_pass(tmp_path, DATA)
    raw = _state(state)
    assert raw["schema"] == SCHEMA
    last = max(raw["days"])
    assert _refs_of(state, last, raw["days"][last], "touch_events")
    assert manage.verify(state) == []


def _encodings_of(path: Path | pa.BufferReader) -> dict[str, set[str]]:
    meta = pq.ParquetFile(path).metadata
    out: dict[str, set[str]] = {}
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            col = meta.row_group(g).column(c)
            out.setdefault(col.path_in_schema, set()).update(col.encodings)
    return out


def test_text_keys_are_stored_plain_and_repeated_texts_with_a_dictionary() -> None:
    frame = pd.DataFrame(
        {"hits": [3, 1, 2, 5], "browser": ["Firefox", "Chrome", "Firefox", "Chrome"]},
        index=pd.Index(["/a", "/b", "/c", "/d"], name="path"),
    )
    data, _ = layout_module._parquet(frame)
    enc = _encodings_of(pa.BufferReader(data))
    # Every path distinct: no dictionary (it would only add an index to each value).
    assert not any("DICTIONARY" in e for e in enc["path"])
    assert any("DICTIONARY" in e for e in enc["browser"])
    assert layout_module._frame(pq.read_table(pa.BufferReader(data))).equals(frame)


def test_stored_days_keep_their_text_keys_plain_and_older_files_read_beside_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    # The first run writes as logaudit did before branch store22: dictionaries everywhere.
    with monkeypatch.context() as m:
        m.setattr(layout_module, "_distinct_texts", lambda table: frozenset())
        m.setattr(layout_module, "_best_ints", lambda table, rule: rule)
        server.write_to(_line_end(DATA, 0.5))
        report(server.glob(), state)
    raw = _state(state)
    old_day, old_info = next((d, i) for d, i in sorted(raw["days"].items()) if i.get("closed"))
    old = _encodings_of(Layout(state).path(old_day, old_info, "paths"))
    assert any("DICTIONARY" in e for e in old["path"])
    assert not any("BYTE_STREAM_SPLIT" in e for e in old["bytes"])
    server.write_to(len(DATA))
    assert figures(report(server.glob(), state)) == _one_pass(tmp_path, DATA)
    assert manage.verify(state) == []
    raw = _state(state)
    # The day stored before is read as it was written (not rewritten: no new lines for it).
    assert raw["days"][old_day]["files"]["paths"] == old_info["files"]["paths"]
    new_day, new_info = sorted(raw["days"].items())[-1]
    assert new_day != old_day
    stored = Layout(state)
    for table, column in (("paths", "path"), ("referrers", "referrer"), ("places", "client")):
        enc = _encodings_of(stored.path(new_day, new_info, table))
        assert not any("DICTIONARY" in e for e in enc[column]), (table, enc)
    # Each integer column of the new day's paths in the encoding its trial chose (which one
    # depends on the values and on pyarrow's and zstd's versions).
    paths = stored.path(new_day, new_info, "paths")
    raw_paths = pq.read_table(paths)
    chosen = layout_module._best_ints(raw_paths, layout_module._encodings(raw_paths.schema))
    enc = _encodings_of(paths)
    ints = [f.name for f in raw_paths.schema if pa.types.is_integer(f.type)]
    assert ints and raw_paths.num_rows >= layout_module.TRIAL_ROWS
    for name in ints:
        assert chosen["column_encoding"][name] in enc[name], (name, enc[name])
    assert figures(report([], state)) == _one_pass(tmp_path, DATA)


def _split_integer_files(root: Path) -> list[tuple[str, str, str]]:
    """(day, table, column) of each stored integer column with byte-stream split pages."""
    stored, out = Layout(root), []
    for day, info in sorted(_state(root)["days"].items()):
        for table in info["files"]:
            f = pq.ParquetFile(stored.path(day, info, table))
            for c in range(f.metadata.num_columns):
                field = f.schema_arrow.field(f.metadata.schema.column(c).name)
                encodings = set()
                for g in range(f.metadata.num_row_groups):
                    encodings.update(f.metadata.row_group(g).column(c).encodings)
                if pa.types.is_integer(field.type) and "BYTE_STREAM_SPLIT" in encodings:
                    out.append((day, table, field.name))
    return out


def test_a_schema_12_store_is_read_written_on_as_13_and_an_older_logaudit_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte-stream split integers need pyarrow 16: a logaudit of schema 12 (perhaps on pyarrow
    15) would call such a file unreadable and advise `state rebuild`, losing the days whose
    logs are gone. So a store holding them says 13, and a schema-12 logaudit refuses it."""
    server = Server(tmp_path / "logs", DATA)
    state = tmp_path / "state"
    half = _line_end(DATA, 0.5)
    with monkeypatch.context() as m:  # written as a schema-12 logaudit wrote
        m.setattr(layout_module, "_distinct_texts", lambda table: frozenset())
        m.setattr(layout_module, "_best_ints", lambda table, rule: rule)
        server.write_to(half)
        report(server.glob(), state)
    raw = _state(state)
    raw["schema"] = 12
    (state / STATE_FILE).write_text(json.dumps(raw))
    assert not _split_integer_files(state)
    assert figures(report([], state)) == _one_pass(tmp_path, DATA[:half])
    server.write_to(len(DATA))
    assert figures(report(server.glob(), state)) == _one_pass(tmp_path, DATA)
    assert manage.verify(state) == []
    assert _split_integer_files(state)  # the new days' files need pyarrow 16 ...
    assert _state(state)["schema"] == SCHEMA == 14  # ... so the store says so
    # A schema-12 logaudit refuses it in one line (exit 7), never calls it damaged.
    with monkeypatch.context() as m:
        m.setattr(layout_module, "READS", tuple(range(1, 13)))
        with pytest.raises(ConfigError) as e:
            report([], state)
    assert e.value.exit_code == ExitCode.CONFIG == 7
    message = str(e.value)
    assert "store schema 14" in message and "reads schema 1 to 12 only" in message
    assert "unreadable" not in message and "damaged" not in message


def _chunk_sizes(table: pa.Table, name: str) -> dict[str, int]:
    """Column ``name``'s chunk in bytes in each of ``INT_ENCODINGS``, written as a stored file
    is (a column's chunk is compressed alone: the other columns do not change it)."""
    sizes = {}
    for encoding in layout_module.INT_ENCODINGS:
        sink = io.BytesIO()
        pq.write_table(
            table.select([name]),
            sink,
            **layout_module.WRITER,
            use_dictionary=False,
            column_encoding={name: encoding},
        )
        meta = pq.read_metadata(pa.BufferReader(sink.getvalue()))
        sizes[encoding] = meta.row_group(0).column(0).total_compressed_size
    return sizes


def test_each_integer_column_is_stored_in_its_smallest_encoding() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "utc": np.arange(1_700_000_000, 1_700_000_000 + 3000, dtype=np.int64),  # deltas
            # Sizes over many magnitudes (a path's bytes a day): its high bytes mostly zero.
            "bytes": np.exp(rng.normal(8, 3, 3000)).astype(np.int64),
            # Signed but random over all 64 bits: deltas need 64 bits and headers, never less.
            "noise": rng.integers(-(2**63), 2**63 - 1, 3000, dtype=np.int64),
            "key": rng.integers(0, 2**63, 3000).astype(np.uint64),  # random
        }
    )
    data, _ = layout_module._parquet(frame)
    stored = _encodings_of(pa.BufferReader(data))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for name in frame.columns:
        sizes = _chunk_sizes(table, name)
        smallest = {e for e, n in sizes.items() if n == min(sizes.values())}  # ties: any
        assert smallest & stored[name], (name, sizes, stored[name])
    assert "DELTA_BINARY_PACKED" in stored["utc"]
    # The choice is the values', not the kind's: two signed columns, two encodings.
    assert "DELTA_BINARY_PACKED" not in stored["noise"]
    # Random keys: nothing beats their 8 bytes; plain and byte-stream split tie or near.
    assert {"PLAIN", "BYTE_STREAM_SPLIT"} & stored["key"]
    assert "DELTA_BINARY_PACKED" not in stored["key"]
    assert layout_module._frame(pq.read_table(pa.BufferReader(data))).equals(frame)
