"""Request lines split per distinct value: ``parse._usual`` (three parts, a method and a
protocol of their form, checked once per distinct method and protocol) says exactly what RE2
says with ``_REQUEST_USUAL``, and ``_split_requests`` gives that pattern's groups for the usual
requests and ``_REQUEST``'s for the rest."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given
from hypothesis import strategies as st

from logaudit.parse import _REQUEST, _REQUEST_USUAL, _split_requests, _usual

ALPHABET = "GETPOST get/ HTP1.0?-_a9\t\x00é"


def _check(texts: list[str | None]) -> None:
    arr = pa.array(texts, pa.string())
    usual = pc.match_substring_regex(arr, _REQUEST_USUAL).fill_null(False).to_pylist()
    assert _usual(pc.split_pattern(arr, " ")).tolist() == usual
    got = _split_requests(arr)
    plain = pc.extract_regex(arr, _REQUEST_USUAL)
    general = pc.extract_regex(arr, _REQUEST)
    for i, is_usual in enumerate(usual):
        want = plain if is_usual else general
        assert got.is_valid()[i].as_py() == want.is_valid()[i].as_py()
        if want.is_valid()[i].as_py():
            for name in ("method", "target", "protocol"):
                assert got.field(name)[i].as_py() == want.field(name)[i].as_py(), (texts[i], name)


@given(st.lists(st.text(alphabet=ALPHABET, max_size=24), min_size=1, max_size=30))
@example(["GET / HTTP/1.1", "GET  HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 "])
@example(["1GET / HTTP/1.1", "G-_9 /x HTTP/", "GET /x HTTP/1.", "GET /a b HTTP/1.1", "-", ""])
@example(["GET\t/ HTTP/1.1", "GET / http/1.1", "GET / HTTP/1.1\x00", "GÉT / HTTP/1.1"])
def test_usual_requests_are_what_re2_says(texts: list[str]) -> None:
    _check(list(texts))


def test_all_usual_all_odd_and_empty() -> None:
    _check(["GET / HTTP/1.1", "POST /a?b HTTP/2.0"])
    _check(["-", "junk", ""])
    _check([])
    # Three parts each, but a method or a protocol not of the usual form: split once.
    _check(["GET / HTTP/1.1", "1GET /x HTTP/1.1", "GET /y FTP/1.0"])
    _check([None, "GET / HTTP/1.1", "GET /a b HTTP/1.1"])
