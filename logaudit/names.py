"""The names the command line offers before any log is read, without the data stack.

``--help``, ``logaudit sections``, ``--section``, ``--every``, ``--metric``, the filters,
``--attribution`` and ``--log-format`` need only names and help texts; the modules that apply
them import pandas and pyarrow (0.35 s), or compile patterns, so the CLI reads them here instead
(issue #18, "Small logs").

``FILTERS`` and ``ATTRIBUTION_MODELS`` live here (``filters`` and ``analyze.attribution``
import them). ``SECTIONS``, ``EVERY``, ``METRICS`` and ``FORMATS`` are copies of registries
made of code (``analyze.SECTIONS``, ``analyze.trends``, ``formats.FORMATS``):
``tests/test_startup.py`` checks that they equal those, in order, so a section added there and
not here fails that test and help text cannot drift from the code.
"""

from __future__ import annotations

# analyze.SECTIONS: name -> title, in display order.
SECTIONS: dict[str, str] = {
    "daily": "Daily visitors",
    "pages": "Requested pages",
    "static": "Static files",
    "not-found": "Not-found URLs (404)",
    "hosts": "Client hosts",
    "status": "Status codes",
    "referring-sites": "Referring sites",
    "referrers": "Referrer URLs",
    "hours": "Hour of day",
    "vhosts": "Virtual hosts",
    "methods": "Request methods",
    "protocols": "Protocols",
    "visits": "Visits by clicks",
    "durations": "Visit duration",
    "entry-pages": "Entry pages",
    "exit-pages": "Exit pages",
    "entry-exit": "Most common entry -> exit",
    "visitor-visits": "One visitor's visits",
    "clickstream": "One visitor's clickstream",
    "browsers": "Browsers",
    "os": "Operating systems",
    "devices": "Devices",
    "crawlers": "Crawlers and tools",
    "countries": "Countries",
    "networks": "ISPs and networks",
    "top-visitors": "Top visitors",
    "periods": "Traffic per period",
    "change": "Change since the period before",
    "movers": "Movers: pages, sites, countries, browsers, sources",
    "unusual": "Unusual periods",
    "headline": "What is wrong",
    "error-timeline": "Errors over time",
    "failing-urls": "Failing URLs",
    "slow-endpoints": "Slow endpoints",
    "slow-requests": "Slowest requests",
    "suspicious-clients": "Suspicious clients",
    "now": "Now",
    "sources": "Sources of visits",
    "campaigns": "Campaigns",
    "keyphrases": "Search keyphrases",
    "conversions": "Conversions by source",
    "affiliates": "Affiliates",
    "affiliate-conversions": "Conversions behind each affiliate",
    "source-periods": "Sources per period",
    "personal-data": "Personal data found",
    "privacy-rules": "Privacy rules checked",
}

# analyze.trends.EVERY: --every's choices.
EVERY: tuple[str, ...] = ("auto", "hour", "day", "week", "month")

# analyze.trends.METRICS: --metric's choices.
METRICS: tuple[str, ...] = (
    "hits",
    "page_views",
    "visitors",
    "visits",
    "clicks_per_visit",
    "bandwidth",
    "status_4xx",
    "rate_4xx",
    "status_5xx",
    "rate_5xx",
    "response_p50_ms",
    "response_p95_ms",
)

# formats.FORMATS' names, in detection order: --log-format's help (building the registry
# compiles every format's patterns, ~10 ms that `--help`, `sections` and `config` do not need).
FORMATS: tuple[str, ...] = (
    "vcombined",
    "combined",
    "vcommon",
    "common",
    "nginx-xff",
    "nginx-xff-bare",
    "w3c",
    "alb",
    "elb",
    "s3",
    "squid",
    "traefik",
    "gcs",
    "haproxy",
    "caddy",
    "traefik-json",
    "nginx-json",
)

# Option name (without --) -> (record column, kind, help). The CLI builds its options from
# this table, so --help cannot drift from what is applied (logaudit.filters applies it).
FILTERS: dict[str, tuple[str, str, str]] = {
    "status": ("status", "status", "Status: 404, 5xx, '4xx,5xx', 500-504."),
    "path": ("path", "regex", "Path matches this RE2 regex (case-sensitive)."),
    "referrer": ("referrer", "regex", "Referrer matches this RE2 regex (any case)."),
    "agent": ("agent", "regex", "User agent matches this RE2 regex (any case)."),
    "client": ("client", "cidr", "Client address or CIDR range (IPv4 or IPv6)."),
    "method": ("method", "word", "HTTP method (GET, POST...)."),
    "vhost": ("vhost", "word", "Virtual host (host or host:port)."),
    "country": ("client", "country", "ISO country code of the client (needs GeoIP)."),
    "network": ("client", "network", "Network/ISP name of the client, RE2 (needs GeoIP)."),
}


# --attribution's models (analyze.attribution applies them).
ATTRIBUTION_MODELS: dict[str, str] = {
    "last-non-direct": "the converting visit's source, or if direct the latest non-direct "
    "source within the window (default)",
    "last": "the converting visit's own source, direct included",
    "first": "the first non-direct source within the window",
}
