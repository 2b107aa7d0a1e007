"""``classify.NonPages``: each non-page pattern tried by RE2 only on the paths its literal
prefix (suffix, exact text) admits gives every path the answer of the whole alternation
(``non_page_pattern``), which it replaced for speed."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from logaudit.enrich.classify import NonPages, non_page_pattern

PATHS = [
    "/", "/api", "/api/", "/api/v1/users", "/API/v1", "/x/api/v1", "/api/\nx", "/api/x\n",
    "/a.json", "/a.JSON", "/a.json\n", "/a.json/b", "/.json", ".json", "/exact", "/exact/",
    "/exactly", "/b/c.php", "/b/c.php5", "/w1/x", "/w/x", "/w12/x", "/ajax/", "/ajax",
    "/internal/a", "/x/internal/", "/caf\u00e9.json", "/\u00e9/api/", "", "/a*b", "/a?b",
]

PATTERNS = [
    (),
    ("/exact",),
    ("*.php", "/ajax/*"),
    ("re:^/internal/", "re:\\.php\\d$"),
    ("/w?/*", "/a*b"),
    ("*",),
    ("*api*",),
    ("/api*json", "?json"),
    ("/a\\?b", "/a.json/*"),
]


def _paths(extra: int = 0) -> pa.Array:
    rng = random.Random(11)
    alphabet = "/a.jsonpiAPI?*\n\u00e9xw1"
    more = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(extra)]
    return pa.array(PATHS + more, pa.large_string())


@pytest.mark.parametrize("patterns", PATTERNS)
def test_non_pages_answer_as_the_whole_alternation(patterns: tuple[str, ...]) -> None:
    names = _paths(extra=3000)
    want = np.asarray(pc.match_substring_regex(names, non_page_pattern(patterns)))
    got = NonPages(patterns).match(names)
    assert got.dtype == np.bool_
    assert got.tolist() == want.tolist()
    assert got.any()  # the defaults alone match some of PATHS


def test_non_pages_of_plain_string_arrays_and_none() -> None:
    names = pa.array(["/api/a", "/b", "/c.json"], pa.string())
    assert NonPages(()).match(names).tolist() == [True, False, True]
    assert NonPages(()).match(pa.array([], pa.large_string())).tolist() == []


def test_a_pattern_valid_only_inside_the_alternation_reads_as_before() -> None:
    # "re:x)|(?:y" is accepted by the alternation (it closes and reopens a group there) but is
    # no regex alone: it must match as the alternation does, not end in Arrow's error.
    patterns = ("re:x)|(?:y",)
    names = pa.array(["/x", "/y", "/z", "/index.html"], pa.large_string())
    want = np.asarray(pc.match_substring_regex(names, non_page_pattern(patterns)))
    assert NonPages(patterns).match(names).tolist() == want.tolist()
    assert want.tolist()[:3] == [True, True, False]
