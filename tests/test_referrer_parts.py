"""The host and the path of each referrer URL (``referrers._hosts``, ``_ref_paths``): found by
a replace and an anchored capture, exactly as ``site_of`` (``_URL``) finds them."""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logaudit.analyze import referrers


def _site_of_hosts(text: pa.Array) -> pa.Array:
    """site_of's host (_URL's regex): what the store writes, and one-pass reports must equal."""
    return pa.array(referrers.site_of(pd.Index(text.to_pylist(), dtype=object))["site"])


def _site_of_paths(text: pa.Array) -> pa.Array:
    return pa.array(referrers.site_of(pd.Index(text.to_pylist(), dtype=object))["ref_path"])


# Pieces that make every branch of the URL's shape: schemes good and bad, user info, ports
# with and without digits, queries, fragments, upper case, www., newlines, non-ASCII.
_PIECES = [
    "http", "HTTPS", "a+b.c-d", "1x", "://", ":", "/", "//", "@", "u:p@", "?", "#", "q=1",
    ":80", ":8a", ".", "www.", "WWW.", "Ex.COM", "x", "9", "-", "\n", "\r", " ", "é", "日本",
    "[", "]", "[::1]", "[2001:DB8::1]", "[a b]", "%25eth0",
]
_TEXTS = st.lists(
    st.one_of(st.none(), st.lists(st.sampled_from(_PIECES), max_size=10).map("".join)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.booleans())
def test_parts_are_the_regexes_captures(texts: list[str | None], large: bool) -> None:
    text = pa.array(texts, pa.large_string() if large else pa.string())
    assert referrers._hosts(text).to_pylist() == _site_of_hosts(text).to_pylist()
    assert referrers._ref_paths(text).to_pylist() == _site_of_paths(text).to_pylist()


def test_parts_of_usual_referrers() -> None:
    text = pa.array([
        "-", "", "https://www.Example.com/a/b?q=1#f", "http://user:pw@host:8080/p", "http://h:x/p",
        "android-app://com.google.android.gm/", "HTTP://WWW.A.B", "ftp://@/", "mailto:x@y",
        "http://[2001:DB8::1]:8080/p?q", "http://[::1]/x", "http://[abc",
        "http://[bold red]x[/]y",
    ])
    assert referrers._hosts(text).to_pylist() == [
        "", "", "example.com", "host", "h", "com.google.android.gm", "a.b", "", "",
        "[2001:db8::1]", "[::1]", "[abc",  # an IPv6 literal whole (it was "[2001" and "[")
        "[bold red]x[",  # not an address: a name up to its first "/", as before
    ]
    assert referrers._ref_paths(text).to_pylist() == [
        "", "", "/a/b", "/p", "x/p", "/", "", "/", "", "/p", "/x", "", "/]y",
    ]
    assert referrers._hosts(text).to_pylist() == _site_of_hosts(text).to_pylist()
    assert referrers._ref_paths(text).to_pylist() == _site_of_paths(text).to_pylist()


def test_parts_a_part_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PART referrers the replace runs on parts of them: the same parts, in order."""
    rng = random.Random(5)
    texts = [
        rng.choice(["-", "https://www.A.com/p?q", "http://u@h:81/x#f", "x://", "é"])
        + str(i)
        if i % 7
        else None
        for i in range(1000)
    ]
    text = pa.array(texts)
    monkeypatch.setattr(referrers, "PART", 64)
    assert referrers._hosts(text).to_pylist() == _site_of_hosts(text).to_pylist()
    assert referrers._ref_paths(text).to_pylist() == _site_of_paths(text).to_pylist()
