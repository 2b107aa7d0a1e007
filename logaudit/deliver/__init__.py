"""Delivering reports: files (``files.py``) and, later, mail."""
