"""logaudit: a fast, private, hostile-input-safe analyzer for web-server access logs."""

__version__ = "0.1.0"
