"""The record table's helpers: categoricals built without re-checking, hashes of used values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logaudit.analyze.base import hash_rows, used_categories
from logaudit.schema import arrow_strings, categorical, hash_strings


def test_categorical_equals_the_checked_constructor() -> None:
    cats = pd.Index(["b", "a", "c"], dtype="str")
    codes = np.array([2, 0, 0, 1, 2], dtype=np.int32)
    fast = categorical(codes, cats)
    checked = pd.Categorical.from_codes(codes, categories=cats)
    assert fast.equals(checked)
    assert list(fast) == ["c", "b", "b", "a", "c"]
    # Codes are narrowed as pandas does, so concatenation and comparison behave the same.
    assert fast.codes.dtype == checked.codes.dtype
    assert str(fast.categories.dtype) == "str"


def test_categorical_without_the_fast_path_still_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pd.CategoricalDtype, "_from_fastpath")
    cat = categorical(np.array([1, 0]), pd.Index(["x", "y"], dtype="str"))
    assert list(cat) == ["y", "x"]


@pytest.mark.parametrize("n", [0, 1, 5])
def test_used_categories_are_the_distinct_codes_in_order(n: int) -> None:
    rng = np.random.default_rng(n)
    codes = rng.integers(0, max(n, 1), size=3 * n).astype(np.int16)
    assert used_categories(codes, n).tolist() == sorted(set(codes.tolist()))


def test_hash_rows_hashes_each_selected_rows_text() -> None:
    cats = pd.Index(["/a", "/b", "/c", "/d"], dtype="str")
    cat = categorical(np.array([3, 1, 3, 0, 2], dtype=np.int8), cats)
    rows = np.array([0, 1, 2, 4])
    expected = hash_strings(pd.Index(["/d", "/b", "/d", "/c"], dtype="str"))
    assert hash_rows(cat, rows).tolist() == expected.tolist()
    assert hash_rows(cat, np.array([], np.int64)).tolist() == []


def test_hash_strings_in_chunks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from logaudit import schema

    values = pd.Index([f"/p/{i}/é" for i in range(1000)], dtype="str")
    whole = pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    monkeypatch.setattr(schema, "HASH_CHUNK", 64)
    assert (schema.hash_strings(values) == whole).all()
    assert (schema.hash_strings(np.asarray(values, dtype=object)) == whole).all()


def _python_hashes(values: list[str]) -> np.ndarray:
    """What hash_strings has always given: pandas' hash of each value as a Python str."""
    return pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)


def test_hash_strings_from_arrow_bytes_equals_python_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Arrow-backed text is hashed from its UTF-8 bytes: the same values as from str objects,
    for non-ASCII, empty and long values, in chunks, and for an index sliced from another."""
    from logaudit import schema

    texts = ["", "-", "/é", "Mozilla/5.0 (X11; Linux) ✓ 😀", "a" * 5000, "nan", "None", "\x00z"]
    texts += [f"/p/{i}?q={i * 7}" for i in range(300)]
    values = pd.Index(texts, dtype="str")
    assert isinstance(values.array, pd.arrays.ArrowStringArray)
    assert schema._arrow_text(values) is not None
    assert (hash_strings(values) == _python_hashes(texts)).all()
    monkeypatch.setattr(schema, "HASH_CHUNK", 7)
    assert (schema.hash_strings(values) == _python_hashes(texts)).all()
    assert (schema.hash_strings(values[5:77]) == _python_hashes(texts[5:77])).all()
    assert schema.hash_strings(values[:0]).tolist() == []


def test_hash_strings_with_a_missing_value_keeps_its_old_hash() -> None:
    """A missing value hashes as numpy gives it ("nan"), as before: not through Arrow."""
    from logaudit import schema

    values = pd.Index(["/a", None, "/b"], dtype="str")
    assert schema._arrow_text(values) is None
    expected = pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    assert (hash_strings(values) == expected).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",))), max_size=40))
def test_hash_strings_any_text(texts: list[str]) -> None:
    values = pd.Index(texts, dtype="str")
    assert (hash_strings(values) == _python_hashes(texts)).all()


@pytest.mark.parametrize("chunks", [[["a"], ["b", "c"]], [["a", "b"]], [[]]])
def test_arrow_strings_is_one_array_of_chunked_values(chunks: list[list[str]]) -> None:
    text = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    backed = pd.arrays.ArrowStringArray(text, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    assert backed.dtype == "str"
    out = arrow_strings(pd.Index(backed))
    assert isinstance(out, pa.Array)  # not a ChunkedArray: callers read .indices and such
    assert out.to_pylist() == [v for c in chunks for v in c]
