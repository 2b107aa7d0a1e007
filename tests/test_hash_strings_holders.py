"""``schema.hash_strings`` gives each text's hash of its Python string, whatever holds the texts
(Arrow-backed text is hashed from its UTF-8 bytes)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from logaudit import schema
from logaudit.schema import hash_strings


def _texts(n: int) -> list[str]:
    rng = random.Random(8)
    alphabet = "ab/.?=&%-_ \t\"'<>\u00e9\u4e2d\U0001f600\x00\x7f"
    return ["", " ", "-"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)
    ]


@pytest.mark.parametrize("kind", ["index", "categories", "array", "chunked", "large", "numpy"])
def test_hash_strings_whatever_holds_the_texts(kind: str) -> None:
    texts = list(dict.fromkeys(_texts(2000)))
    if kind == "index":
        values: object = pd.Index(texts, dtype="str")
    elif kind == "categories":
        values = pd.Categorical(texts + texts[:5]).categories
    elif kind == "array":
        values = pd.Index(texts, dtype="str").array
    elif kind == "chunked":
        arr = pa.chunked_array([pa.array(texts[:700]), pa.array(texts[700:])])
        values = pd.Index(pd.arrays.ArrowStringArray(arr))
    elif kind == "large":
        values = pd.Index(pd.arrays.ArrowStringArray(pa.array(texts, pa.large_string())))
    else:
        values = np.array(texts, dtype=object)
    want = pd.util.hash_array(np.array(list(values), dtype=object), categorize=False)  # type: ignore[call-overload]
    got = hash_strings(values)  # type: ignore[arg-type]
    assert got.dtype == np.uint64
    assert got.tolist() == want.tolist()


def test_hash_strings_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = list(dict.fromkeys(_texts(100)))
    want = hash_strings(pd.Index(texts, dtype="str"))
    monkeypatch.setattr(schema, "HASH_CHUNK", 7)
    assert hash_strings(pd.Index(texts, dtype="str")).tolist() == want.tolist()


def test_missing_values_hash_as_before() -> None:
    values = pd.Index(["a", None, "b"], dtype="str")
    want = pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    assert hash_strings(values).tolist() == want.tolist()
    assert hash_strings(pd.Index([], dtype="str")).tolist() == []


def test_arrow_text_is_hashed_from_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pd.util.hash_array

    def bytes_only(values: np.ndarray, **kw: object) -> np.ndarray:
        assert all(isinstance(v, bytes) for v in values), "went through Python strings"
        return real(values, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pd.util, "hash_array", bytes_only)
    values = pd.Index(["/a", "/b\u00e9"], dtype="str")
    assert len(hash_strings(values)) == 2
    assert len(hash_strings(pd.Categorical(["x", "y", "x"]).categories)) == 2
