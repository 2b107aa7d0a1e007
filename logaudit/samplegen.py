"""Synthetic access logs of a small web shop: logaudit's own sample-log generator.

Writes Apache/nginx *combined* lines for ``shop.example.com``: people browsing (long-tailed
clicks per visit, think times, asset hits within a second of each page, internal referrers, a
cart -> checkout -> /order/complete funnel with abandonment, returning visitors), visit sources
(search engines with keyphrases, social sites, other sites, direct, utm / gclid / fbclid /
affiliate campaigns), crawlers and tools, one 404 scanner burst, one 20-minute 5xx incident on
/checkout and /api/, POST, HEAD and OPTIONS requests, and hostile text an analyzer must render
safely (script tags, rich-console markup, an escaped terminal escape, ``\\"`` in a referrer).
Everything is made up; client addresses come from MaxMind's GeoIP test databases and the
documentation ranges.

    python -m logaudit.samplegen --out sample_logs               # rotated set, one file per day
    python -m logaudit.samplegen --lines 1000000 --output big.log  # exactly N lines, one file

The same seed and options give the same bytes: one ``random.Random`` drives everything, and no
output depends on the iteration order of a set or on string hashing.

Malformed lines planted in the rotated set (``PLANTED``), at these 1-based line numbers of the
default run (a smaller run plants only those that fit):

    access.log.1  101   truncated    a valid line cut off inside the request
    access.log.1  1502  nginx_error  an nginx error-log line that strayed into the access log
    access.log.1  2303  non_utf8     raw bytes 0xE9 0xFF 0xFE (not UTF-8) in the request path
    access.log.1  2650  bad_status   status field is "OK"
    access.log    57    bad_status   status field is "OK"
    access.log    888   garbage      junk text with a raw ESC[2J and BEL among it
    access.log    1717  truncated    a valid line cut off inside the request
    access.log    2401  bad_date     timestamp 32/Jan/2026:25:61:07 (no such day or time)

``--lines`` mode writes no malformed line unless ``--bad-lines K`` asks for K of them; they
replace lines at evenly spaced positions, cycling through the kinds above.
"""

from __future__ import annotations

import gzip
import ipaddress
import random
import re
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote_plus

import click

SITE = "https://shop.example.com"
DEFAULT_SEED = 42
DEFAULT_START = date(2026, 1, 22)  # a Thursday: the default four days end with a weekend
DEFAULT_DAYS = 4
DEFAULT_TZ = "+0100"
DEFAULT_PER_DAY = 5000  # rotated set: lines on an average weekday

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# People's visits per local hour: quiet at night, peak mid-afternoon, a second evening bump.
DIURNAL = (
    2.0,
    1.3,
    0.9,
    0.7,
    0.7,
    1.0,
    1.8,
    3.0,
    4.4,
    5.4,
    6.0,
    6.3,
    6.6,
    6.9,
    7.4,
    7.6,
    7.3,
    6.7,
    6.3,
    6.6,
    6.8,
    5.9,
    4.5,
    3.0,
)
WEEKDAY = (1.0, 1.03, 1.0, 0.97, 0.9, 0.68, 0.62)  # Monday first: weekends are quieter

# ---- the site --------------------------------------------------------------------------------
ADJ = (
    "blue",
    "red",
    "black",
    "white",
    "leather",
    "wool",
    "linen",
    "waterproof",
    "vintage",
    "classic",
    "slim",
    "organic",
    "running",
    "winter",
    "summer",
    "canvas",
    "suede",
    "denim",
)
NOUN = (
    "shoes",
    "boots",
    "sneakers",
    "shirt",
    "jacket",
    "bag",
    "hat",
    "socks",
    "scarf",
    "belt",
    "backpack",
    "hoodie",
    "gloves",
    "sandals",
    "coat",
    "wallet",
)
CATEGORIES = (
    "shoes",
    "boots",
    "sneakers",
    "shirts",
    "jackets",
    "bags",
    "hats",
    "socks",
    "accessories",
    "kids",
    "women",
    "men",
    "sale",
    "new",
)
CONTENT = (
    "/about",
    "/contact",
    "/faq",
    "/shipping",
    "/returns",
    "/privacy",
    "/terms",
    "/stores",
    "/gift-cards",
    "/size-guide",
    "/account/login",
    "/account/orders",
    "/blog/",
)
BLOG = tuple(
    f"/blog/{y}/{a}-{n}-{w}"
    for y in (2024, 2025)
    for a in ADJ
    for n in NOUN[:8]
    for w in ("guide", "care")[: 1 + (len(a) + len(n)) % 2]
)
N_PRODUCTS = 24000
# Assets every page links; fonts are loaded by the stylesheet, so their referrer is the CSS.
STATIC = (
    ("/static/css/main.4f1c2a.css", 38211),
    ("/static/js/vendor.9b8e1d.js", 164233),
    ("/static/js/app.2c7d90.js", 51877),
    ("/static/fonts/inter-var.woff2", 98044),
    ("/static/img/logo.png", 5321),
    ("/favicon.ico", 1150),
)
FOREIGN = (
    "chaussures bleues",
    "schuhe größe 42",
    "zapatillas de running",
    "ботинки зимние",
    "кожаная сумка",
    "运动鞋",
    "羊毛袜",
    "レザーバッグ",
    "vinterjacka dam",
    "wollsocken",
)
PHRASES = tuple(
    quote_plus(p)
    for p in (
        *(f"{a} {n}" for a in ADJ for n in NOUN),
        *(f"cheap {n} sale" for n in NOUN),
        *(f"{n} size {s}" for n in NOUN[:4] for s in (38, 40, 42, 44)),
        *FOREIGN,
        "shop example",
        "shop.example.com returns",
        "free shipping shoes",
    )
)

# ---- who visits --------------------------------------------------------------------------------
# (weight, first address, number of addresses): MaxMind GeoIP test networks (GB, US, SE, CN, BT,
# Telstra AU, AT&T, JP and US IPv6), the documentation ranges, and a few private addresses.
CLIENT_NETS = tuple(
    (w, int(ipaddress.ip_address(a)), n)
    for w, a, n in (
        (5, "81.2.69.142", 18),
        (5, "216.160.83.56", 8),
        (5, "89.160.20.112", 16),
        (6, "175.16.199.0", 128),
        (3, "2.125.160.216", 8),
        (3, "67.43.156.0", 256),
        (18, "1.128.0.0", 1 << 21),
        (8, "12.81.92.0", 1024),
        (10, "2001:218::", 1 << 96),
        (5, "2001:480::", 1 << 85),
        (10, "203.0.113.0", 256),
        (10, "198.51.100.0", 256),
        (1, "10.0.0.0", 1 << 24),
        (1, "192.168.0.0", 1 << 16),
    )
)

_W, _M, _L = "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64"
_WK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_IOS = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
_CHROME, _FIREFOX = tuple(range(120, 132)), (115, *range(122, 134))
_SAFARI = ("16.6", "17.1", "17.2", "17.4", "17.6", "18.0", "18.1")
_IOSV = ("16_7_4", "17_1_2", "17_2_1", "17_4_1", "17_6_1", "18_0_1", "18_1")
_PHONES = (
    "SM-S911B",
    "SM-A546B",
    "SM-G991B",
    "Pixel 7",
    "Pixel 8 Pro",
    "M2101K6G",
    "CPH2451",
    "moto g(60)",
    "22111317G",
    "K",
)
_TABLETS = ("SM-X200", "SM-T970", "Lenovo TB-X606F")
# Older Chrome on Android still sends its full version and the device: the long tail of agents.
_CHROME_FULL = (
    "120.0.6099.230",
    "121.0.6167.178",
    "122.0.6261.119",
    "123.0.6312.118",
    "124.0.6367.179",
    "125.0.6422.165",
    "126.0.6478.122",
    "127.0.6533.103",
    "128.0.6613.146",
    "129.0.6668.100",
    "130.0.6723.107",
    "131.0.6778.135",
)
_DEVICES = tuple(
    f"{a}; {m}"
    for a in (10, 11, 12, 13, 14)
    for m in (
        "SM-A125F",
        "SM-A205U",
        "SM-A515F",
        "SM-A536B",
        "SM-G973F",
        "SM-G998B",
        "SM-N986B",
        "SM-S901B",
        "SM-S918B",
        "Pixel 4a",
        "Pixel 6",
        "Pixel 7a",
        "Redmi Note 8 Pro",
        "Redmi Note 11",
        "M2007J20CG",
        "2201117TG",
        "CPH2219",
        "CPH2387",
        "RMX3085",
        "V2111",
        "ONEPLUS A6013",
        "LE2123",
        "moto g(30)",
        "Nokia G21",
    )
)
# (weight, template, versions, models): newer versions are weighted up, see _agents().
BROWSERS = (
    (24, f"Mozilla/5.0 ({_W}) {_WK} Chrome/{{v}}.0.0.0 Safari/537.36", _CHROME, ("",)),
    (7, f"Mozilla/5.0 ({_M}) {_WK} Chrome/{{v}}.0.0.0 Safari/537.36", _CHROME, ("",)),
    (3, f"Mozilla/5.0 ({_L}) {_WK} Chrome/{{v}}.0.0.0 Safari/537.36", _CHROME, ("",)),
    (
        7,
        f"Mozilla/5.0 ({_W}) {_WK} Chrome/{{v}}.0.0.0 Safari/537.36 Edg/{{v}}.0.0.0",
        _CHROME,
        ("",),
    ),
    (6, f"Mozilla/5.0 ({_W}; rv:{{v}}.0) Gecko/20100101 Firefox/{{v}}.0", _FIREFOX, ("",)),
    (
        2,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        _FIREFOX,
        ("",),
    ),
    (
        2,
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        _FIREFOX,
        ("",),
    ),
    (8, f"Mozilla/5.0 ({_M}) {_IOS} Version/{{v}} Safari/605.1.15", _SAFARI, ("",)),
    (
        18,
        f"Mozilla/5.0 (Linux; Android 14; {{m}}) {_WK} Chrome/{{v}}.0.0.0 Mobile Safari/537.36",
        _CHROME,
        _PHONES,
    ),
    (
        8,
        f"Mozilla/5.0 (Linux; Android {{m}}) {_WK} Chrome/{{v}} Mobile Safari/537.36",
        _CHROME_FULL,
        _DEVICES,
    ),
    (
        2,
        f"Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) {_WK} Version/4.0 "
        "Chrome/{v} Mobile Safari/537.36 Instagram {m}.0.0.51.97 Android (34/14; 450dpi; "
        "1080x2340; samsung; SM-S918B; dm3q; qcom; en_GB; 666666666)",
        _CHROME_FULL[-4:],
        ("355", "357", "358"),
    ),
    (
        1,
        f"Mozilla/5.0 (Windows NT 6.1; Win64; x64) {_WK} Chrome/109.0.0.0 Safari/537.36",
        ("",),
        ("",),
    ),
    (
        1,
        f"Mozilla/5.0 ({_W}) {_WK} Chrome/122.0.0.0 YaBrowser/{{v}}.0.0 Safari/537.36",
        ("24.1", "24.4", "24.7"),
        ("",),
    ),
    (
        3,
        f"Mozilla/5.0 (Linux; Android 13; SAMSUNG {{m}}) {_WK} SamsungBrowser/{{v}}.0 "
        "Chrome/115.0.0.0 Mobile Safari/537.36",
        (22, 23, 24, 25),
        _PHONES[:3],
    ),
    (1, "Mozilla/5.0 (Android 14; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0", _FIREFOX, ("",)),
    (
        16,
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {{v}} like Mac OS X) {_IOS} Version/{{m}} "
        "Mobile/15E148 Safari/604.1",
        _IOSV,
        ("17.2", "17.4", "18.1"),
    ),
    (
        2,
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) {_IOS} CriOS/{{v}}.0.6099.119 "
        "Mobile/15E148 Safari/604.1",
        _CHROME,
        ("",),
    ),
    (
        4,
        f"Mozilla/5.0 (iPad; CPU OS {{v}} like Mac OS X) {_IOS} Version/{{m}} Mobile/15E148 "
        "Safari/604.1",
        _IOSV,
        ("17.2", "18.1"),
    ),
    (
        2,
        f"Mozilla/5.0 (Linux; Android 13; {{m}}) {_WK} Chrome/{{v}}.0.0.0 Safari/537.36",
        _CHROME,
        _TABLETS,
    ),
    # Facebook's in-app browser: a real UA full of square brackets.
    (
        2,
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {{v}} like Mac OS X) {_IOS} Mobile/15E148 "
        "[FBAN/FBIOS;FBAV/{m}.0.0.38.109;FBBV/553418418;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;"
        "FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        _IOSV,
        ("441", "442", "445"),
    ),
    (
        1,
        f"Mozilla/5.0 ({_W}) {_WK} Chrome/{{v}}.0.0.0 Safari/537.36 OPR/105.0.0.0",
        _CHROME[-4:],
        ("",),
    ),
)

# (weight, user agent, address prefixes, mean pages per session)
CRAWLERS = (
    (
        22,
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ("66.249.66.", "66.249.64.", "66.249.68."),
        20,
    ),
    (
        12,
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        ("66.249.66.", "66.249.79."),
        15,
    ),
    (3, "Googlebot-Image/1.0", ("66.249.66.",), 10),
    (
        14,
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        ("40.77.167.", "207.46.13.", "157.55.39."),
        15,
    ),
    (
        12,
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        ("54.36.148.", "54.36.149.", "5.39.109."),
        30,
    ),
    (
        8,
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        ("5.255.231.", "213.180.203.", "87.250.224."),
        12,
    ),
    (
        4,
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        ("116.179.32.", "220.181.108."),
        8,
    ),
    (
        7,
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        ("185.191.171.",),
        25,
    ),
    (3, "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", ("20.191.45.",), 5),
    (
        3,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        ("17.241.219.", "17.241.227."),
        6,
    ),
    (
        5,
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        ("20.171.207.",),
        20,
    ),
    (
        3,
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        ("114.119.134.", "114.119.147."),
        8,
    ),
    (
        4,
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        ("69.171.249.", "173.252.83."),
        1,
    ),
    (2, "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", ("136.243.228.",), 10),
)
MONITOR_UA = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
SCANNER_IP = "175.16.199.200"  # CN, outside the addresses people get
SCANNER_UA = f"Mozilla/5.0 ({_W}) {_WK} Chrome/81.0.4044.129 Safari/537.36"
SCAN = (
    "/wp-login.php",
    "/wp-admin/",
    "/xmlrpc.php",
    "/.env",
    "/.env.bak",
    "/.env.production",
    "/.git/config",
    "/.git/HEAD",
    "/phpmyadmin/",
    "/pma/",
    "/myadmin/",
    "/admin.php",
    "/administrator/",
    "/config.php",
    "/config.php.bak",
    "/backup.zip",
    "/backup.tar.gz",
    "/db.sql",
    "/dump.sql",
    "/.aws/credentials",
    "/.ssh/id_rsa",
    "/.DS_Store",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/luci",
    "/HNAP1/",
    "/solr/admin/info/system",
    "/actuator/env",
    "/actuator/health",
    "/owa/auth/logon.aspx",
    "/boaform/admin/formLogin",
    "/console/",
    "/telescope/requests",
    "/_ignition/execute-solution",
    "/wp-content/plugins/wp-file-manager/readme.txt",
    "/wp-includes/wlwmanifest.xml",
    "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array"
    "&vars[0]=md5&vars[1][]=HelloThinkPHP",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
    "/api/v1/pods",
    "/info.php",
    "/phpinfo.php",
    "/test.php",
    "/shell.php",
    "/login.action",
    "/.well-known/security.txt",
    "/server-status",
    "/.htaccess",
    "/.htpasswd",
    "/.svn/entries",
)
SCAN_FORBIDDEN = ("/server-status", "/.htaccess", "/.htpasswd", "/.git/config")
HOSTILE_PATHS = (
    ("/products/%3Cscript%3Ealert(1)%3C/script%3E", 404),  # as a browser sends it
    ("/search?q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E", 200),
)
HOSTILE_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) [bold red]pwn[/] Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 \\x1B[31mRED\\x1B[0m (X11; Linux x86_64) Firefox/133.0",
)
INCIDENT = ((502, 157), (502, 157), (503, 197), (500, 580))  # (status, body bytes)
MALFORMED_KINDS = ("truncated", "nginx_error", "non_utf8", "bad_status", "garbage", "bad_date")


@dataclass(frozen=True)
class Planted:
    file: str
    line: int
    kind: str


PLANTED = (
    Planted("access.log.1", 101, "truncated"),
    Planted("access.log.1", 1502, "nginx_error"),
    Planted("access.log.1", 2303, "non_utf8"),
    Planted("access.log.1", 2650, "bad_status"),
    Planted("access.log", 57, "bad_status"),
    Planted("access.log", 888, "garbage"),
    Planted("access.log", 1717, "truncated"),
    Planted("access.log", 2401, "bad_date"),
)


def product_path(pid: int) -> str:
    return f"/products/{pid}-{ADJ[pid % len(ADJ)]}-{NOUN[pid // 7 % len(NOUN)]}"


def _agents() -> tuple[list[str], list[float]]:
    agents, weights = [], []
    for weight, template, versions, models in BROWSERS:
        for i, v in enumerate(versions):
            for m in models:
                agents.append(template.format(v=v, m=m))
                # Auto-updating browsers: each older version is a third less common.
                weights.append(weight * 0.67 ** (len(versions) - 1 - i) / len(models))
    return agents, list(accumulate(weights))


@cache
def _hms() -> list[str]:
    return [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


@dataclass
class _Visitor:
    ip: str
    agent: str
    proto: str
    cached: bool = False  # has the site's CSS/JS in its cache, so revalidates (304) or skips them


class _Sim:
    """The shop's traffic, one day at a time. Lines are (second since day 0's local midnight,
    line); a day's lines come out of ``day`` unsorted, in generation order."""

    def __init__(self, seed: int, start: date, quotas: Sequence[int], tz: str) -> None:
        self.rng = random.Random(seed)
        self.tz = tz
        self.dates = [
            f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}"
            for d in (start + timedelta(i) for i in range(len(quotas) + 2))
        ]
        self.hms = _hms()
        self.quotas = quotas
        self.agents, self.agent_cw = _agents()
        self.hour_cw = list(accumulate(DIURNAL))
        self.net_cw = list(accumulate(w for w, _, _ in CLIENT_NETS))
        self.crawler_cw = list(accumulate(c[0] for c in CRAWLERS))
        self.visitors: list[_Visitor] = []
        self.out: list[tuple[int, str]] = []
        # The incident: ~20 minutes on the day before the last, mid-afternoon, when that day is
        # big enough to show it; requests to /checkout and /api/ then fail with 5xx.
        self.incident_day = max(len(quotas) - 2, 0)
        lo = self.incident_day * 86400 + 14 * 3600 + 300 + self.rng.randrange(1800)
        self.burst = (lo, lo + 1200) if quotas and quotas[self.incident_day] >= 1500 else (-1, -1)

    def emit(
        self,
        t: int,
        ip: str,
        method: str,
        target: str,
        status: int,
        size: int | str,
        ref: str,
        agent: str,
        proto: str = "HTTP/1.1",
        user: str = "-",
    ) -> int:
        if self.burst[0] <= t < self.burst[1] and target.startswith(("/checkout", "/api/")):
            status, size = self.rng.choice(INCIDENT)
        day, sec = divmod(t, 86400)
        self.out.append(
            (
                t,
                f"{ip} - {user} [{self.dates[day]}:{self.hms[sec]} {self.tz}] "
                f'"{method} {target} {proto}" {status} {size} "{ref}" "{agent}"\n',
            )
        )
        return status

    def day(self, d: int) -> list[tuple[int, str]]:
        self.out, quota, base, last = [], self.quotas[d], d * 86400, len(self.quotas) - 1
        if quota >= 1000:
            self.monitor(base)
        if d == self.incident_day and self.burst[0] >= 0:
            self.incident(self.burst[0])
        if d == last and quota >= 1500:
            self.scanner(base + 2 * 3600 + self.rng.randrange(7200))
            self.hostile(base)
        kinds: tuple[Callable[[int], None], ...] = (
            self.person,
            self.crawler,
            self.tool,
            self.widget,
            self.staff,
        )
        kind_cw = list(accumulate((80, 12, 5, 2, 1)))
        while True:
            while len(self.out) < quota:
                self.rng.choices(kinds, cum_weights=kind_cw)[0](base)
            if d < last or max((t for t, _ in self.out), default=0) < base + 86400:
                break
            # The log ends at the last midnight: cut visits there and top up with new ones.
            self.out = [rec for rec in self.out if rec[0] < base + 86400]
        del self.out[quota:]  # trims the tail of the last session: the count is exact
        return self.out

    # ---- helpers -----------------------------------------------------------------------------
    def when(self, base: int) -> int:
        return (
            base
            + self.rng.choices(range(24), cum_weights=self.hour_cw)[0] * 3600
            + self.rng.randrange(3600)
        )

    def new_ip(self) -> str:
        _, first, size = self.rng.choices(CLIENT_NETS, cum_weights=self.net_cw)[0]
        return str(ipaddress.ip_address(first + self.rng.randrange(size)))

    def visitor(self) -> _Visitor:
        rng = self.rng
        if self.visitors and rng.random() < 0.1:  # a visitor coming back (same IP and UA)
            return self.visitors[rng.randrange(len(self.visitors))]
        agent = rng.choices(self.agents, cum_weights=self.agent_cw)[0]
        v = _Visitor(self.new_ip(), agent, "HTTP/2.0" if rng.random() < 0.6 else "HTTP/1.1")
        self.visitors.append(v)
        return v

    def product(self) -> tuple[int, str]:
        # Log-uniform ids: a few best sellers, a long tail that still covers the whole catalogue.
        rng = self.rng
        pid = int(N_PRODUCTS ** rng.random()) if rng.random() < 0.7 else rng.randint(1, N_PRODUCTS)
        return pid, product_path(pid)

    def page(self) -> str:
        rng, r = self.rng, self.rng.random()
        if r < 0.5:
            target = self.product()[1]
            return (
                target + rng.choice(("?color=red", "?color=black", "?size=42"))
                if rng.random() < 0.12
                else target
            )
        if r < 0.7:
            cat = f"/category/{rng.choice(CATEGORIES)}"
            return cat + (f"?page={rng.randint(2, 6)}" if rng.random() < 0.25 else "")
        if r < 0.8:
            return f"/search?q={rng.choice(PHRASES)}"
        if r < 0.86:
            return "/"
        return rng.choice(CONTENT) if r < 0.95 else rng.choice(BLOG)

    @staticmethod
    def status(target: str) -> int:
        # Discontinued products (and ids past the catalogue, met by crawlers) are gone for good.
        if target.startswith("/products/"):
            pid = int(target[10:].split("-", 1)[0])
            return 404 if pid % 89 == 0 or pid > N_PRODUCTS else 200
        return 200

    def token(self, k: int) -> str:
        return "".join(
            self.rng.choices(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", k=k
            )
        )

    def source(self) -> tuple[str, str]:
        """(referrer, entry target) of a visit."""
        rng, r = self.rng, self.rng.random()
        kp = rng.choice(PHRASES)
        landing = rng.choice(("/", self.product()[1], f"/category/{rng.choice(CATEGORIES)}"))
        if r < 0.32:
            return "-", rng.choice(("/", "/", landing))
        if r < 0.66:
            e = rng.random()
            if e < 0.2:  # today's Google mostly sends no keyphrase at all
                ref = f"https://www.google.{rng.choice(('com', 'co.uk', 'de', 'com.au'))}/"
            elif e < 0.6:
                ref = f"https://www.google.com/search?q={kp}"
            elif e < 0.75:
                ref = f"https://www.bing.com/search?q={kp}&form=QBLH"
            elif e < 0.85:
                ref = f"https://duckduckgo.com/?q={kp}&ia=web"
            elif e < 0.93:
                ref = f"https://yandex.ru/search/?text={kp}&lr=213"
            else:
                ref = f"https://www.baidu.com/s?wd={kp}&ie=utf-8"
            return ref, landing
        if r < 0.75:
            return rng.choice(
                (
                    "https://www.facebook.com/",
                    "https://m.facebook.com/",
                    f"https://t.co/{self.token(10)}",
                    "https://www.instagram.com/",
                    f"https://www.reddit.com/r/malefashionadvice/comments/{self.token(6)}"
                    "/winter_boots/",
                    "https://out.reddit.com/",
                )
            ), landing
        if r < 0.85:
            return rng.choice(
                (
                    "https://www.shoe-reviews.example/best-running-shoes-2026/",
                    "https://forum.runners.example/t/which-shoes/8812",
                    "https://en.wikipedia.org/wiki/Sneakers",
                    "https://news.ycombinator.com/item?id=41234567",
                    "android-app://com.google.android.gm/",
                    "https://www.pinterest.com/",
                )
            ), landing
        c = rng.random()  # campaign-tagged entry URLs
        if c < 0.3:
            return (
                rng.choice(("-", "https://mail.google.com/")),
                "/?utm_source=newsletter"
                "&utm_medium=email&utm_campaign=winter_sale_2026&utm_content=hero_button",
            )
        if c < 0.55:
            tag = f"gclid=Cj0KCQiA{self.token(40)}"
            if rng.random() < 0.5:
                tag = f"utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term={kp}&{tag}"
            return "https://www.google.com/", f"{landing}?{tag}"
        if c < 0.75:
            tag = f"fbclid=IwAR{self.token(40)}"
            if rng.random() < 0.6:
                tag = f"utm_source=Facebook&utm_medium=paid_social&utm_campaign=jan_sale&{tag}"
            return "https://l.facebook.com/", f"/category/sale?{tag}"
        if c < 0.85:
            return (
                "https://www.instagram.com/",
                "/?utm_source=instagram&utm_medium=social&utm_campaign=bio_link",
            )
        return (
            "https://www.shoe-reviews.example/best-running-shoes-2026/",
            f"{self.product()[1]}?ref=partner42",
        )

    # ---- sessions ----------------------------------------------------------------------------
    def person(self, base: int) -> None:
        rng = self.rng
        t, v = self.when(base), self.visitor()
        ref, entry = self.source()
        # Clicks per visit: ~40 % bounce, then a Pareto tail (a few visits of 20+ pages).
        clicks = 1 if rng.random() < 0.4 else min(80, 1 + int(rng.paretovariate(1.2)))
        steps = [("GET", entry)] + [("GET", self.page()) for _ in range(clicks - 1)]
        r = rng.random()
        if clicks > 1 and r < 0.16:  # the funnel; most carts are abandoned
            if not any(s.startswith("/products/") for _, s in steps):
                steps.append(("GET", self.product()[1]))
            steps += [("POST", "/cart/add"), ("GET", "/cart")]
            if r < 0.09:
                steps.append(("GET", "/checkout"))
            if r < 0.05:
                steps += [
                    ("POST", "/checkout"),
                    ("GET", f"/order/complete?order=SE{rng.randrange(100000, 999999)}"),
                ]
            elif r < 0.06:
                steps.append(("POST", "/checkout/payment"))  # declined, then gone
        for i, (method, target) in enumerate(steps):
            if i:  # think time: median ~25 s; now and then a pause long enough to end the visit
                t += (
                    int(min(1500, max(2, rng.lognormvariate(3.2, 1.1))))
                    if rng.random() > 0.02
                    else rng.randrange(1900, 5400)
                )
            if method == "POST":
                status = 402 if target == "/checkout/payment" else 303
                if (
                    self.emit(
                        t,
                        v.ip,
                        method,
                        target,
                        status,
                        rng.randint(150, 230),
                        ref,
                        v.agent,
                        v.proto,
                    )
                    >= 500
                ):
                    return
                continue
            status = self.status(target)
            size = rng.randint(5000, 6000) if status == 404 else rng.randint(9000, 42000)
            if self.emit(t, v.ip, method, target, status, size, ref, v.agent, v.proto) >= 500:
                return  # the incident: they give up
            self.assets(t, v, target, status)
            ref = SITE + target

    def assets(self, t: int, v: _Visitor, target: str, status: int) -> None:
        rng, page = self.rng, SITE + target
        ip, agent, proto, emit = v.ip, v.agent, v.proto, self.emit
        if not v.cached:
            for path, size in STATIC:
                src = SITE + STATIC[0][0] if path.endswith(".woff2") else page
                emit(t + rng.randrange(2), ip, "GET", path, 200, size, src, agent, proto)
            v.cached = True
        elif rng.random() < 0.3:
            for path, _ in STATIC[:3]:
                emit(t + rng.randrange(2), ip, "GET", path, 304, "-", page, agent, proto)
        if target.startswith("/products/") and status == 200:
            pid = target[10:].split("-", 1)[0]
            emit(
                t + 1,
                ip,
                "GET",
                f"/media/products/{pid}/800.webp",
                200,
                rng.randint(30000, 140000),
                page,
                agent,
                proto,
            )
            if rng.random() < 0.5:
                emit(
                    t + 1,
                    ip,
                    "GET",
                    f"/api/stock?product={pid}",
                    200,
                    rng.randint(60, 90),
                    page,
                    agent,
                    proto,
                )
        elif target.startswith(("/category/", "/search")):
            for _ in range(rng.randint(2, 5)):
                emit(
                    t + 1,
                    ip,
                    "GET",
                    f"/media/products/{self.product()[0]}/240.webp",
                    200,
                    rng.randint(6000, 18000),
                    page,
                    agent,
                    proto,
                )
        elif target == "/" or target.startswith("/?"):
            emit(
                t + 1,
                ip,
                "GET",
                "/media/banners/winter-sale-1600.jpg",
                200,
                184312,
                page,
                agent,
                proto,
            )
        if rng.random() < 0.15:  # analytics beacon
            emit(t + 2, ip, "POST", "/api/events", 204, "-", page, agent, proto)

    def crawler(self, base: int) -> None:
        rng = self.rng
        _, agent, prefixes, mean = rng.choices(CRAWLERS, cum_weights=self.crawler_cw)[0]
        ip = f"{rng.choice(prefixes)}{rng.randrange(1, 255)}"
        t = base + rng.randrange(86400)  # robots don't sleep
        if rng.random() < 0.3:
            self.emit(t, ip, "GET", "/robots.txt", 200, 312, "-", agent)
        if rng.random() < 0.12:
            t += rng.randint(1, 5)
            self.emit(t, ip, "GET", "/sitemap.xml", 200, 1874, "-", agent)
            self.emit(
                t + 2,
                ip,
                "GET",
                f"/sitemap-products-{rng.randint(1, 24)}.xml",
                200,
                rng.randint(80000, 120000),
                "-",
                agent,
            )
        image_bot = agent.startswith("Googlebot-Image")
        for _ in range(1 + int(rng.expovariate(1 / mean))):
            t += 1 + int(rng.expovariate(1 / 8))
            r = rng.random()
            if image_bot:
                target = f"/media/products/{self.product()[0]}/800.webp"
            elif r < 0.55:
                # Crawlers also follow old links to ids past the catalogue (404).
                target = product_path(rng.randint(1, N_PRODUCTS * 108 // 100))
            elif r < 0.95:
                target = self.page()
            else:  # the shop's previous software: permanently redirected
                target = f"/index.php?route=product/product&product_id={rng.randint(1, 9000)}"
                self.emit(t, ip, "GET", target, 301, 178, "-", agent)
                continue
            status = self.status(target)
            if status == 200 and rng.random() < 0.1 and "Googlebot" in agent:
                self.emit(t, ip, "GET", target, 304, "-", "-", agent)
            else:
                self.emit(t, ip, "GET", target, status, rng.randint(9000, 42000), "-", agent)

    def tool(self, base: int) -> None:
        rng = self.rng
        t, r = self.when(base), rng.random()
        if r < 0.3:
            ip = rng.choice(("::1", "127.0.0.1", f"203.0.113.{rng.randrange(1, 255)}"))
            agent = rng.choice(("curl/8.5.0", "curl/7.88.1", "curl/8.11.0"))
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.4:
                    self.emit(t, ip, "HEAD", "/", 200, "-", "-", agent)
                else:
                    self.emit(
                        t,
                        ip,
                        "GET",
                        rng.choice(("/", "/api/health")),
                        200,
                        rng.randint(15, 30000),
                        "-",
                        agent,
                    )
                t += rng.randint(1, 30)
        elif r < 0.45:
            ip = f"203.0.113.{rng.randrange(1, 255)}"
            for target in rng.sample(("/sitemap.xml", "/feed.xml", "/static/lookbook-2026.pdf"), 2):
                self.emit(t, ip, "GET", target, 200, rng.randint(2000, 900000), "-", "Wget/1.21.4")
                t += rng.randint(1, 4)
        elif r < 0.75:  # a price scraper paging through the API until rate-limited
            ip = f"198.51.100.{rng.randrange(1, 255)}"
            for page in range(1, rng.randint(3, 60)):
                status = 429 if page > 40 else 200
                self.emit(
                    t,
                    ip,
                    "GET",
                    f"/api/products?page={page}",
                    status,
                    rng.randint(3000, 9000) if status == 200 else 72,
                    "-",
                    "python-requests/2.31.0",
                )
                t += rng.randint(1, 3)
        else:
            ip, agent = (
                f"198.51.100.{rng.randrange(1, 255)}",
                rng.choice(("Go-http-client/1.1", "Go-http-client/2.0")),
            )
            for _ in range(rng.randint(1, 8)):
                self.emit(
                    t,
                    ip,
                    "GET",
                    f"/api/stock?product={self.product()[0]}",
                    200,
                    rng.randint(60, 90),
                    "-",
                    agent,
                )
                t += rng.randint(1, 10)

    def widget(self, base: int) -> None:
        # A partner site embeds a stock widget: the browser's CORS preflight, then the request.
        v, t, ref = self.visitor(), self.when(base), "https://www.shoe-reviews.example/"
        target = f"/api/stock?product={self.product()[0]}"
        self.emit(t, v.ip, "OPTIONS", target, 204, "-", ref, v.agent, v.proto)
        self.emit(t + 1, v.ip, "GET", target, 200, self.rng.randint(60, 90), ref, v.agent, v.proto)

    def staff(self, base: int) -> None:
        rng = self.rng
        ip, t = rng.choice(("192.168.1.23", "10.0.0.12")), base + rng.randint(8 * 3600, 18 * 3600)
        agent, ref = f"Mozilla/5.0 ({_L}; rv:133.0) Gecko/20100101 Firefox/133.0", "-"
        self.emit(t, ip, "GET", "/admin/", 401, 381, "-", agent)
        for target in ("/admin/", "/admin/orders", f"/admin/orders/{rng.randint(1000, 9999)}"):
            t += rng.randint(3, 60)
            self.emit(t, ip, "GET", target, 200, rng.randint(4000, 20000), ref, agent, user="alice")
            ref = SITE + target

    def monitor(self, base: int) -> None:
        for t in range(base + self.rng.randrange(600), base + 86400, 600):
            self.emit(t, "198.51.100.14", "HEAD", "/api/health", 200, "-", "-", MONITOR_UA)

    def incident(self, lo: int) -> None:
        # Shoppers retrying while the backend is down; ``emit`` turns their requests into 5xx.
        rng = self.rng
        for _ in range(30):
            v, t = self.visitor(), lo + rng.randrange(1200)
            for _ in range(rng.randint(1, 3)):
                method, target = rng.choice(
                    (
                        ("GET", "/checkout"),
                        ("POST", "/checkout"),
                        ("POST", "/api/cart"),
                        ("GET", "/api/cart"),
                    )
                )
                self.emit(t, v.ip, method, target, 200, 100, SITE + "/cart", v.agent, v.proto)
                t += rng.randint(3, 40)

    def scanner(self, t: int) -> None:
        for path in SCAN:
            method = "POST" if path.startswith("/cgi-bin/.%2e") else "GET"
            status = 403 if path in SCAN_FORBIDDEN else 404
            self.emit(
                t, SCANNER_IP, method, path, status, 153 if status == 403 else 162, "-", SCANNER_UA
            )
            t += self.rng.randrange(3)
        self.emit(t, SCANNER_IP, "GET", "/<script>alert(1)</script>", 404, 162, "-", "curl/8.5.0")

    def hostile(self, base: int) -> None:
        rng, ff = self.rng, HOSTILE_AGENTS[0].replace(" [bold red]pwn[/]", "")
        for target, status in HOSTILE_PATHS:
            self.emit(
                self.when(base),
                f"89.160.20.{rng.randint(112, 127)}",
                "GET",
                target,
                status,
                5432,
                "-",
                ff,
            )
        for agent in HOSTILE_AGENTS:
            self.emit(
                self.when(base),
                f"81.2.69.{rng.randint(142, 159)}",
                "GET",
                "/",
                200,
                24311,
                "-",
                agent,
            )
        self.emit(
            self.when(base),
            "216.160.83.61",
            "GET",
            "/category/sale",
            200,
            31877,
            'https://forum.example.net/search?q=\\"cheap+shoes\\"',
            ff,
        )


# ---- streams and files -----------------------------------------------------------------------
def day_quotas(n: int, start: date, days: int) -> list[int]:
    """Split n lines over the days by weekday weight, summing to n exactly (largest remainder)."""
    weights = [WEEKDAY[(start + timedelta(d)).weekday()] for d in range(days)]
    shares = [n * w / sum(weights) for w in weights]
    quotas = [int(s) for s in shares]
    by_remainder = sorted(range(days), key=lambda d: quotas[d] - shares[d])
    for d in by_remainder[: n - sum(quotas)]:
        quotas[d] += 1
    return quotas


def iter_days(
    quotas: Sequence[int],
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    tz_offset: str = DEFAULT_TZ,
) -> Iterator[list[str]]:
    """Each day's lines (str, ending in a newline) in time order; sum(quotas) lines in all.

    Visits that run past midnight carry their late lines into the next day's list."""
    sim = _Sim(seed, start, quotas, tz_offset)
    carry: list[tuple[int, str]] = []
    for d in range(len(quotas)):
        recs = sim.day(d) + carry
        recs.sort(key=itemgetter(0))  # stable: an asset never overtakes its page
        cut = bisect_left(recs, ((d + 1) * 86400,)) if d < len(quotas) - 1 else len(recs)
        carry = recs[cut:]
        yield [line for _, line in recs[:cut]]


def malformed(kind: str, neighbour: str, tz: str = DEFAULT_TZ) -> str:
    """A malformed line modelled on a valid neighbour. Raw bytes are carried as surrogates
    (encode with errors='surrogateescape')."""
    ip, ts = neighbour.split(" ", 1)[0], neighbour[neighbour.find("[") + 1 : neighbour.find("]")]
    day, mon, year = ts[:11].split("/")
    agent = f"Mozilla/5.0 ({_W}) {_WK} Chrome/131.0.0.0 Safari/537.36"
    lines = {
        "truncated": neighbour[: neighbour.find('"') + 12] + "\n",
        "nginx_error": f"{year}/{MONTHS.index(mon) + 1:02d}/{day} {ts[12:20]} [error] 1043#1043: "
        '*88112 open() "/var/www/shop/static/img/logo@2x.png" failed (2: No such '
        f"file or directory), client: {ip}, server: shop.example.com\n",
        "non_utf8": f'{ip} - - [{ts}] "GET /products/caf\udce9\udcff\udcfe HTTP/1.1" 404 5123 '
        f'"-" "{agent}"\n',
        "bad_status": f'{ip} - - [{ts}] "GET /cart HTTP/1.1" OK 5123 "-" "{agent}"\n',
        "garbage": "%%%% ~~ }{ \x1b[2J\x07 0xDEADBEEF ;;; ??? ####\n",
        "bad_date": f'{ip} - - [32/Jan/2026:25:61:07 {tz}] "GET / HTTP/1.1" 200 1234 "-" '
        f'"{agent}"\n',
    }
    return lines[kind]


def _with_bad_lines(days: Iterable[list[str]], n: int, bad: int, tz: str) -> Iterator[list[str]]:
    positions = sorted({(k + 1) * n // (bad + 1) for k in range(min(bad, n))})
    seen, k = 0, 0
    for lines in days:
        while k < len(positions) and positions[k] < seen + len(lines):
            i = positions[k] - seen
            lines[i] = malformed(MALFORMED_KINDS[k % len(MALFORMED_KINDS)], lines[i], tz)
            k += 1
        seen += len(lines)
        yield lines


def generate_lines(
    n: int,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    tz_offset: str = DEFAULT_TZ,
    bad_lines: int = 0,
) -> Iterator[bytes]:
    """Exactly n lines (bytes, each ending in b"\\n") of shop traffic over ``days`` days."""
    chunks = iter_days(day_quotas(n, start, days), seed, start, tz_offset)
    for lines in _with_bad_lines(chunks, n, bad_lines, tz_offset):
        for line in lines:
            yield line.encode("utf-8", "surrogateescape")


def write_lines(
    stream: BinaryIO,
    n: int,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    tz_offset: str = DEFAULT_TZ,
    bad_lines: int = 0,
) -> None:
    """``generate_lines`` written a day at a time: the fast path for big benchmark files."""
    chunks = iter_days(day_quotas(n, start, days), seed, start, tz_offset)
    for lines in _with_bad_lines(chunks, n, bad_lines, tz_offset):
        stream.write("".join(lines).encode("utf-8", "surrogateescape"))


def rotated_name(age: int) -> str:
    """logrotate's names with delaycompress: the newest day plain, the day before plain, older
    days gzipped; a higher number is an older file."""
    return "access.log" if age == 0 else f"access.log.{age}" + (".gz" if age > 1 else "")


def write_rotated_set(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    tz_offset: str = DEFAULT_TZ,
    per_day: int = DEFAULT_PER_DAY,
) -> list[Planted]:
    """One file per local day, the planted malformed lines, and a README; returns what was
    planted (a short run plants only the lines that fit)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in sorted(out_dir.glob("access.log*")):
        if re.fullmatch(r"access\.log(\.\d+(\.gz)?)?", old.name):
            old.unlink()
    noise = random.Random(seed + 1)
    quotas = [
        round(per_day * WEEKDAY[(start + timedelta(d)).weekday()] * noise.uniform(0.93, 1.07))
        for d in range(days)
    ]
    planted, files = [], []
    for d, lines in enumerate(iter_days(quotas, seed, start, tz_offset)):
        name = rotated_name(days - 1 - d)
        for p in PLANTED:
            if p.file == name and p.line <= len(lines) + 1:
                lines.insert(
                    p.line - 1, malformed(p.kind, lines[min(p.line - 1, len(lines) - 1)], tz_offset)
                )
                planted.append(p)
        data = "".join(lines).encode("utf-8", "surrogateescape")
        if name.endswith(".gz"):
            with (
                open(out_dir / name, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            ):
                gz.write(data)  # no name, mtime 0: the same bytes on every run
        else:
            (out_dir / name).write_bytes(data)
        files.append((name, start + timedelta(d), len(lines), (out_dir / name).stat().st_size))
    _write_readme(out_dir, files, planted, seed, start, days, tz_offset, per_day)
    return planted


def _write_readme(
    out_dir: Path,
    files: list[tuple[str, date, int, int]],
    planted: list[Planted],
    seed: int,
    start: date,
    days: int,
    tz: str,
    per_day: int,
) -> None:
    opts = [
        (f"--seed {seed}", seed != DEFAULT_SEED),
        (f"--start {start}", start != DEFAULT_START),
        (f"--days {days}", days != DEFAULT_DAYS),
        (f"--tz-offset {tz}", tz != DEFAULT_TZ),
        (f"--per-day {per_day}", per_day != DEFAULT_PER_DAY),
    ]
    command = " ".join(
        [
            "python -m logaudit.samplegen --out",
            out_dir.name if out_dir.is_absolute() else out_dir.as_posix(),
            *(o for o, changed in opts if changed),
        ]
    )
    rows = "\n".join(f"| `{n}` | {d:%a %Y-%m-%d} | {c} | {s:,} |" for n, d, c, s in reversed(files))
    bad = "\n".join(f"| `{p.file}` | {p.line} | {p.kind} |" for p in planted)
    (out_dir / "README.md").write_text(f"""# Sample logs (synthetic)

These access logs are **synthetic**: made by logaudit's own generator, `logaudit/samplegen.py`,
for a made-up shop at `shop.example.com`. No line comes from a real server or a real person;
client addresses come from MaxMind's GeoIP test databases and the documentation ranges
(203.0.113.0/24, 198.51.100.0/24), plus a few private ones. To make them again (same bytes):

    {command}

Format: Apache/nginx combined, local time {tz}, one file per day, rotated as logrotate does
with `delaycompress` (the higher the number, the older the file):

| file | day | lines | bytes |
|---|---|---|---|
{rows}

What is in them: people browsing (visits of 1 to many pages, assets after each page, internal
referrers, returning visitors), visits from search engines with keyphrases (Google, Bing,
DuckDuckGo, Yandex, Baidu), social sites, other sites, direct, and campaigns (utm tags, gclid,
fbclid, `?ref=partner42`); a funnel /products -> /cart -> /checkout -> /order/complete with
abandonment; crawlers (Googlebot, bingbot, AhrefsBot, YandexBot, ...) and tools (curl, Wget,
python-requests, Go-http-client, an uptime monitor); one 404 scanner ({SCANNER_IP}) on the last
day; a ~20-minute burst of 500/502/503 on /checkout and /api/ on the day before; POST, HEAD
and OPTIONS requests; hostile text (script tags in paths, `[bold red]` markup and an escaped
`\\x1B` in user agents, `\\"` in a referrer).

Malformed lines, planted on purpose (1-based line numbers):

| file | line | kind |
|---|---|---|
{bad}
""")


# ---- command line ----------------------------------------------------------------------------
def _tz(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    m = re.fullmatch(r"[+-](\d\d)(\d\d)", value)
    if not m or int(m[1]) > 14 or int(m[2]) > 59:
        raise click.BadParameter("give a UTC offset as +HHMM or -HHMM, e.g. +0100")
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sample_logs"),
    show_default=True,
    help="Directory of the rotated set.",
)
@click.option(
    "--lines",
    "n_lines",
    type=click.IntRange(min=0),
    help="Write exactly N lines as one file instead of a rotated set.",
)
@click.option(
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="With --lines: the file to write, '-' for stdout.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=str(DEFAULT_START),
    show_default=True,
    help="First (local) day.",
)
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True)
@click.option(
    "--tz-offset",
    default=DEFAULT_TZ,
    show_default=True,
    callback=_tz,
    help="UTC offset written in every timestamp.",
)
@click.option(
    "--per-day",
    type=click.IntRange(min=1),
    default=DEFAULT_PER_DAY,
    show_default=True,
    help="Rotated set: lines on an average weekday.",
)
@click.option(
    "--bad-lines",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --lines: replace K lines with malformed ones.",
)
def main(
    out_dir: Path,
    n_lines: int | None,
    output: str,
    seed: int,
    start: object,
    days: int,
    tz_offset: str,
    per_day: int,
    bad_lines: int,
) -> None:
    """Generate synthetic access logs (combined format) of a small web shop.

    \b
    Examples:
      python -m logaudit.samplegen --out sample_logs
      python -m logaudit.samplegen --lines 1000000 --output /tmp/gen1m.log
    """
    first = start.date()  # type: ignore[attr-defined]
    if n_lines is None:
        planted = write_rotated_set(out_dir, seed, first, days, tz_offset, per_day)
        click.echo(
            f"wrote {days} day(s) to {out_dir}/ with {len(planted)} malformed lines", err=True
        )
    elif output == "-":
        write_lines(sys.stdout.buffer, n_lines, seed, first, days, tz_offset, bad_lines)
    else:
        with open(output, "wb", buffering=1 << 20) as f:
            write_lines(f, n_lines, seed, first, days, tz_offset, bad_lines)


if __name__ == "__main__":
    main()
