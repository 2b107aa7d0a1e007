"""Delivery: where a finished, rendered report goes besides stdout (mail; files)."""
