"""Compressed files known by their first bytes (not their names), without numpy or pandas:
``sources`` opens inputs with it, and the start-up gates (``alone``) check inputs before
the data stack is imported."""

from __future__ import annotations

import os

MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)


def decompressor(head: bytes) -> str | None:
    """The compression the file starting with ``head`` (6 bytes) is in; None: plain."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return None


def plain_file(path: str | os.PathLike[str]) -> bool:
    """A regular, uncompressed file (raises OSError as ``open`` does)."""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return decompressor(f.read(6)) is None
