"""W3C/IIS logs for the tests of the #Fields: header in force at an offset."""

from __future__ import annotations


def w3c_swapped(before: float, after: float) -> tuple[bytes, int]:
    """An IIS log whose #Fields: header swaps sc-bytes and cs-bytes (the same number of
    fields) after over ``before`` MiB of lines, followed by over ``after`` MiB; and the offset
    of the header's line."""
    fields = "date time c-ip cs-method cs-uri-stem sc-status {}\n"
    head = "#Software: Microsoft Internet Information Services 10.0\n#Fields: " + fields.format(
        "sc-bytes cs-bytes"
    )

    def rows(n: int, hour: int) -> str:
        return "".join(
            f"2026-12-01 {hour:02d}:{i // 60 % 60:02d}:{i % 60:02d} 192.0.2.{i % 50} GET "
            f"/p{i % 7} 200 {1000 + i % 977} {200 + i % 13}\n"
            for i in range(n)
        )

    one = rows(int(before * (1 << 20)) // 40, 1)  # lines of 46-48 bytes: more than asked
    two = rows(int(after * (1 << 20)) // 40, 2)
    text = head + one
    return (text + "#Fields: " + fields.format("cs-bytes sc-bytes") + two).encode(), len(text)
