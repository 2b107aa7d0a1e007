"""The pre-pass that makes ``privacy`` and ``scrub`` fast (``enrich.pii``): the alternations
pick a superset of what the rules find, so the rules can run on the picked values only and
find exactly what they find over every value."""

from __future__ import annotations

import random
import re

import numpy as np
import pyarrow as pa
import pytest
from pii_log import lines

from logaudit.enrich import pii


@pytest.mark.parametrize(
    ("pattern", "trimmed"),
    [
        (r"a+b", r"ab"),
        (r"\w+?@x", r"\w@x"),
        (r"(?i:[a-z]{3,}=)", r"(?i:[a-z]{3}=)"),
        (r"(?:x)?a*b", r"b"),
        (r"(?:(?:|[)x])(?:a+))", r"(?:(?:a))"),
        (r"(?:a+|b)c", r"(?:a|b)c"),
        (r"(?:a+)*b", r"b"),
        # Left alone: a repeated group, a class starting with ']', an optional atom.
        (r"(?:a+b){2}c", r"(?:a+b){2}c"),
        (r"(?:a+b)+c", r"(?:a+b)+c"),
        (r"[]x]+y", r"[]x]+y"),
        (r"a?b+", r"a?b+"),
        (r"ab+", r"ab+"),
    ],
)
def test_lead_trimmed(pattern: str, trimmed: str) -> None:
    assert pii._lead_trimmed(pattern) == trimmed


@pytest.mark.parametrize(
    "pattern",
    [r"a+b", r"(?:x)?a*ba", r"(?:a+|b)c", r"(?:a+)*b", r"(?:a+b){2}c", r"[ab]{2,}c",
     r"(?:ab)?a+?b", r"(?:(?:|[)a])(?:a+b))"],
)
def test_lead_trimmed_finds_whatever_the_pattern_finds(pattern: str) -> None:
    """Random strings over the patterns' alphabet: where the pattern occurs, so does its
    trimmed form (the pre-pass may pick more lines, never fewer)."""
    rnd = random.Random(15)
    full, cut = re.compile(pattern), re.compile(pii._lead_trimmed(pattern))
    for _ in range(3000):
        text = "".join(rnd.choice("abcx)") for _ in range(rnd.randint(0, 9)))
        if full.search(text):
            assert cut.search(text), (pattern, text)


def test_builtin_prefilter_keeps_every_finding() -> None:
    """Each field's pre-pass over the planted log's distinct values keeps every value a
    rule finds something in, and the rules over those alone find the same."""
    rules = pii.rules_for(None)
    parts: dict[str, set[str]] = {f: set() for f in pii.FIELDS}
    for ln in lines(repeat=1):
        request = ln.split('"')[1]
        target = request.split(" ")[1] if " " in request else request
        path, _, query = target.partition("?")
        parts["path"].add(path)
        parts["query"].add(query)
        parts["referrer"].add(ln.split('"')[3])
        parts["agent"].add(ln.split('"')[5])
        parts["user"].add(ln.split(" ")[2])
    found_any = 0
    for field, distinct in parts.items():
        values = pa.array(sorted(distinct), pa.string())
        cand = pii.candidates(values, pii.field_prefilter(rules, field))
        sub = values.take(pa.array(cand))
        for rule in rules:
            if field not in rule.fields:
                continue
            where, found = pii.find(rule, values)
            at, found_sub = pii.find(rule, sub)
            assert np.array_equal(where, cand[at]) and found == found_sub, (rule.name, field)
            found_any += len(where)
    assert found_any > 20
