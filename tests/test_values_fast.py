"""The fast paths of parsing give what the general ones give (issue #11's speed round): fixed-
width ISO times decoded from their bytes against the RE2 path, value for value."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from logaudit.formats.values import decode_time, iso_fixed

ISO = [
    "2026-01-22T00:00:06+01:00",
    "2026-01-22 23:59:59-05:30",
    "2024-02-29T12:00:00+00:00",  # a leap day
    "2023-02-29T12:00:00+00:00",  # no such day
    "2026-13-01T00:00:00+00:00",  # no such month
    "2026-01-00T00:00:00+00:00",
    "2026-01-22T24:00:00+00:00",  # no such hour
    "2026-01-22T10:60:00+00:00",
    "2026-01-22T10:00:60+00:00",  # a leap second is read
    "2026-01-22T10:00:00+19:00",  # no such offset
    "2026-01-22T10:00:00+01:60",
    "2026-01-22T10:00:00-18:00",
    "0000-01-01T00:00:00+00:00",
]


def _same(values: list[str] | pa.Array) -> None:
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    fast = iso_fixed(arr)
    assert fast is not None
    slow = decode_time({"iso": arr}, len(arr))
    for name in ("wall", "usec", "ok", "offset"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    assert fast.utc is None and slow.utc is None


def test_fixed_width_iso_times_decode_as_the_regex_path_does() -> None:
    _same(ISO)
    _same(ISO[:1])
    _same(pa.array(ISO, pa.string()).slice(2, 6))  # offsets not starting at 0


def test_other_iso_forms_are_left_to_the_regex_path() -> None:
    for odd in (
        "2026-01-22T00:00:06Z",
        "2026-01-22T00:00:06.5+01:00",
        "2026-01-22T00:00:06+0100",
        "2026-01-22X00:00:06+01:00",
        "2026-01-2a T00:00:06+01:0",
        "2026-01-22T00:00:06+01.00",
    ):
        assert iso_fixed(pa.array([ISO[0], odd])) is None, odd
    assert iso_fixed(pa.array([ISO[0], None])) is None
    assert iso_fixed(pa.array([], pa.string())) is None
