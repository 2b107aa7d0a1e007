"""``texthash.hash_texts`` gives exactly ``schema.hash_strings``' values, whatever holds them."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from logaudit import texthash
from logaudit.schema import hash_strings
from logaudit.texthash import hash_texts


def _texts(n: int) -> list[str]:
    rng = random.Random(8)
    alphabet = "ab/.?=&%-_ \t\"'<>\u00e9\u4e2d\U0001f600\x00\x7f"
    return ["", " ", "-"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)
    ]


@pytest.mark.parametrize("kind", ["index", "categories", "array", "chunked", "large", "numpy"])
def test_hash_texts_equals_hash_strings(kind: str) -> None:
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
    want = hash_strings(np.array(list(values), dtype=object))  # type: ignore[call-overload]
    got = hash_texts(values)  # type: ignore[arg-type]
    assert got.dtype == np.uint64
    assert got.tolist() == want.tolist()


def test_hash_texts_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(texthash, "HASH_CHUNK", 7)
    texts = list(dict.fromkeys(_texts(100)))
    got = hash_texts(pd.Index(texts, dtype="str"))
    assert got.tolist() == hash_strings(np.array(texts, dtype=object)).tolist()


def test_missing_values_hash_as_before() -> None:
    values = pd.Index(["a", None, "b"], dtype="str")
    assert hash_texts(values).tolist() == hash_strings(values).tolist()
    assert hash_texts(pd.Index([], dtype="str")).tolist() == []


def test_arrow_text_is_hashed_from_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(values: object) -> np.ndarray:
        raise AssertionError("went through Python strings")

    monkeypatch.setattr(texthash, "hash_strings", refuse)
    values = pd.Index(["/a", "/b\u00e9"], dtype="str")
    assert len(hash_texts(values)) == 2
    assert len(hash_texts(pd.Categorical(["x", "y", "x"]).categories)) == 2
