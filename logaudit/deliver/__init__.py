"""Delivery: where a finished, rendered report goes besides stdout: files (``files.py``,
atomic and owner-only) and mail (``mail.py``, ``compose.py``, ``outbox.py``)."""
