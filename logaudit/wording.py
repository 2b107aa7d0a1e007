"""Counts said in words, one way everywhere: "1 bad line", "2 bad lines", "1,234 runs". Messages
wrote a fixed plural after a count that can be one ("(1 bad lines)", QA20 #8), or spelled the
choice again at each site."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` (with thousands separators) and ``noun``, with an "s" unless ``n`` is one; what
    follows the noun goes after the call: ``f"{counted(n, 'run')} of NUL bytes"``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
