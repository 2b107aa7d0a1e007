"""A generator of access logs with planted incidents over normal traffic, for ``problems``.

Normal traffic: people browsing pages with their assets, a genuine Googlebot, a few scattered
404s and nothing else wrong. Planted, each with its figures recorded in ``Planted``: a 5xx burst
on one endpoint, a slow endpoint, a 404 scanner, exploit probes, a brute-force run, a flood and
a fake Googlebot. Nothing here imports logaudit: expectations are computed independently.

Response times: a combined log holds none, so the generator returns one per line; tests either
put them in the chunks (``with_response_times``) or write them as nginx's ``$request_time``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loglines import CHROME, FIREFOX, GOOGLEBOT, line, write

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOURS = 3
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
PEOPLE_AGENTS = [CHROME, FIREFOX, SAFARI]


@dataclass
class Planted:
    burst_path: str = "/api/checkout"
    burst_start: datetime = START + timedelta(minutes=95)
    burst_errors: int = 0
    slow_endpoint: str = "/api/report/{id}"
    slow_requests: int = 0
    scanner: str = "45.67.89.10"
    scanner_paths: int = 60
    prober: str = "91.92.93.94"
    probes: int = 0
    brute: str = "5.6.7.8"
    brute_attempts: int = 60
    flood: str = "77.88.99.100"
    flood_peak: int = 600
    fake_bot: str = "203.0.113.50"
    fake_requests: int = 30
    real_bot: str = "66.249.66.1"
    not_found_hits: int = 0
    lines: int = 0
    response_time: list[float] = field(default_factory=list)


PROBES = [
    "GET /wp-login.php HTTP/1.1",
    "GET /.env HTTP/1.1",
    "GET /.git/config HTTP/1.1",
    "GET /phpmyadmin/index.php HTTP/1.1",
    "GET /cgi-bin/test.cgi HTTP/1.1",
    "GET /index.php?id=1%27%20OR%20%271%27=%271 HTTP/1.1",
    "GET /download?file=../../../../etc/passwd HTTP/1.1",
    "GET /search?q=1%20UNION%20SELECT%20password%20FROM%20users HTTP/1.1",
    "GET /wp-admin/setup-config.php HTTP/1.1",
    "GET /.aws/credentials HTTP/1.1",
]


def generate(seed: int, people: int = 300) -> tuple[list[str], Planted]:
    rng = random.Random(seed)
    p = Planted()
    events: list[tuple[datetime, str, float]] = []  # time, line, response seconds

    def add(
        t: datetime,
        client: str,
        request: str,
        status: int,
        agent: str,
        seconds: float | None = None,
        referrer: str = "-",
    ) -> None:
        if status == 404:
            p.not_found_hits += 1
        if status == 503:
            p.burst_errors += 1
        rt = seconds if seconds is not None else rng.lognormvariate(-3.0, 0.5)  # ~50 ms
        events.append(
            (
                t,
                line(
                    client=client,
                    when=t,
                    request=request,
                    status=status,
                    size=rng.randint(200, 9000),
                    referrer=referrer,
                    agent=agent,
                ),
                rt,
            )
        )

    span = HOURS * 3600
    # People: a few pages each, every page with a handful of assets in the same seconds.
    for i in range(people):
        client = (
            f"{rng.choice([81, 82, 85, 88, 92, 176])}.{rng.randint(0, 255)}."
            f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        )
        agent = rng.choice(PEOPLE_AGENTS)
        t = START + timedelta(seconds=rng.randint(0, span - 900))
        for _ in range(rng.randint(1, 6)):
            kind = rng.random()
            if kind < 0.3:
                page = f"/products/{rng.randint(1, 5000)}"
            elif kind < 0.45:
                page = "/api/checkout"
            elif kind < 0.5:
                page = f"/api/report/{rng.randint(1, 99)}"
            elif kind < 0.6:
                page = f"/item/{rng.getrandbits(128):032x}"
            else:
                page = rng.choice(["/", "/about", "/cart", "/search"])
            seconds = None
            if page.startswith("/api/report/"):
                seconds = rng.uniform(2.0, 5.0)
                p.slow_requests += 1
            status = 200
            if page == "/api/checkout" and p.burst_start <= t < p.burst_start + timedelta(
                minutes=10
            ):
                status = 503
            add(t, client, f"GET {page} HTTP/1.1", status, agent, seconds)
            if page in ("/", "/about", "/cart", "/search") or page.startswith("/products/"):
                for a in rng.sample(
                    [
                        "/css/site.css",
                        "/js/app.js",
                        "/img/logo.png",
                        "/img/hero.jpg",
                        "/favicon.ico",
                    ],
                    3,
                ):
                    add(
                        t + timedelta(seconds=1),
                        client,
                        f"GET {a} HTTP/1.1",
                        rng.choice([200, 304]),
                        agent,
                        referrer="https://shop.example.com/",
                    )
            t += timedelta(seconds=rng.randint(10, 120))
        if i % 60 == 0:  # a stray 404 now and then, each its own client and path
            add(t, client, f"GET /old-page-{i}.html HTTP/1.1", 404, agent)
    # The burst: extra checkout attempts failing for ten minutes.
    for k in range(120):
        add(
            p.burst_start + timedelta(seconds=5 * k),
            f"88.1.{k % 40}.{k // 40 + 1}",
            "POST /api/checkout HTTP/1.1",
            503,
            rng.choice(PEOPLE_AGENTS),
        )
    # A genuine Googlebot, and a fake one.
    for k in range(40):
        add(
            START + timedelta(seconds=200 * k),
            p.real_bot,
            f"GET /products/{k + 1} HTTP/1.1",
            200,
            GOOGLEBOT,
        )
    for k in range(p.fake_requests):
        add(
            START + timedelta(minutes=30, seconds=20 * k),
            p.fake_bot,
            f"GET /products/{k + 100} HTTP/1.1",
            200,
            GOOGLEBOT,
        )
    # A 404 scanner: many distinct missing paths, none a known probe.
    for k in range(p.scanner_paths):
        add(
            START + timedelta(minutes=40, seconds=4 * k),
            p.scanner,
            f"GET /backup/old_{k}/index.html HTTP/1.1",
            404,
            "Mozilla/5.0",
        )
    # Exploit probes.
    for k, req in enumerate(PROBES):
        add(START + timedelta(minutes=60, seconds=3 * k), p.prober, req, 404, "Mozilla/5.0")
    p.probes = len(PROBES)
    # Brute force: failed logins, ten a minute.
    for k in range(p.brute_attempts):
        add(
            START + timedelta(minutes=120, seconds=6 * k),
            p.brute,
            "POST /login HTTP/1.1",
            401,
            "python-requests/2.31",
        )
    # A flood: 600 requests in each of two minutes.
    flood_at = START + timedelta(minutes=150)
    for k in range(2 * p.flood_peak):
        add(
            flood_at + timedelta(seconds=k * 60 / p.flood_peak),
            p.flood,
            "GET / HTTP/1.1",
            200,
            CHROME,
        )
    events.sort(key=lambda e: e[0])
    p.lines = len(events)
    p.response_time = [rt for _, _, rt in events]
    return [ln for _, ln, _ in events], p


def write_log(path: Path, seed: int) -> Planted:
    lines, planted = generate(seed)
    write(path, lines)
    return planted
