"""Enrichment: columns computed once per distinct value (user agents, places, page/static)."""
