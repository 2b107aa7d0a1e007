"""Sources, conversions, attribution and commissions on a log of planned journeys.

Every figure asserted here is worked out by hand below from METRICS.md's rules; nothing is
read back from the code under test. The site is shop.example.com (``--site-host``); goals are
``/order/complete`` (a page view; value from ``value``/``total``) and ``signup=POST /signup``
(a POST answered 2xx/3xx). All times +0000, 2026.

A (Firefox, .1)  campaign converting in one visit
  10 Mar 10:00 /?utm_source=newsletter&utm_medium=email&utm_campaign=spring  ref -
  10:01 /product/1, 10:02 /order/complete?value=50.00              -> A1 newsletter/email, 3 pv
B (Chrome, .2)   search, then converts days later by a direct return
  5 Mar 09:00 /product/2  ref google.com/search?q=Red+Shoes         -> B1 Google/search, bounce
  8 Mar 12:00 /  ref -;  12:05 /order/complete?value=80             -> B2 direct, 2 pv
C (iPhone, .3)   affiliate click, then an ad click
  2 Mar 14:00 /?ref=acme  ref acmeblog.example.net                  -> C1 acme/affiliate, bounce
  6 Mar 15:00 /landing?gclid=XYZ  ref google.com/; 15:03 /order/complete?total=120
                                                                    -> C2 Google Ads/ads, 2 pv
D (Firefox, .4)  a touch older than the 30-day window
  20 Jan 10:00 /  ref facebook.com                                  -> D1 Facebook/social, bounce
  3 Mar 10:00 /  ref -; 10:02 /order/complete?value=30              -> D2 direct, 2 pv
Googlebot (.5)   4 Mar 08:00 /order/complete?value=999: a crawler never converts, no visit
E (Chrome, .6)   goal page reloaded in one visit
  9 Mar 18:00 /?aff=bigblog  ref bigblog.example.org; 18:02 and 18:02:30
  /order/complete?value=40                                          -> E1 bigblog/affiliate, 3 pv
F (Firefox, .7)  a goal that is not a page view
  7 Mar 11:00 /signup  ref t.co; 11:01 POST /signup 303; 11:01 /welcome  -> F1 X/social, 2 pv
G (Firefox, .8)  7 Mar 13:00 POST /signup 303 alone: no page view, no visit, no conversion
H (Firefox, .9)  1 Mar 10:00 /  ref -; 10:00:30 /api/stock 204 (not a page view) -> H1 direct

Visits: A1 B1 B2 C1 C2 D1 D2 E1 F1 H1 = 10. Conversions: order A1 50, B2 80, C2 120, D2 30,
E1 40 (once), signup F1 -> 6 conversions, revenue 320.

Credited source per conversion:
  model            A           B         C           D          E        F
  last-non-direct  newsletter  Google    Google Ads  (direct)   bigblog  X (Twitter)
  last             newsletter  (direct)  Google Ads  (direct)   bigblog  X (Twitter)
  first            newsletter  Google    acme        (direct)   bigblog  X (Twitter)
  l-n-d, 60d       ...         ...       ...         Facebook   ...      ...
Commissions acme=10%, bigblog=2.50: default acme 0, bigblog 2.50; first acme 12.00 (10 % of
120), bigblog 2.50.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from loglines import CHROME, FIREFOX, GOOGLEBOT, isolate, line, write

from logaudit.cli import cli

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
SHOP = "https://shop.example.com"

# (client, agent, time, method, target, status, referrer)
HITS = [
    ("203.0.113.1", FIREFOX, "10/Mar/2026:10:00:00", "GET",
     "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring", 200, "-"),
    ("203.0.113.1", FIREFOX, "10/Mar/2026:10:00:01", "GET", "/style.css", 200, SHOP + "/"),
    ("203.0.113.1", FIREFOX, "10/Mar/2026:10:01:00", "GET", "/product/1", 200, SHOP + "/"),
    ("203.0.113.1", FIREFOX, "10/Mar/2026:10:02:00", "GET", "/order/complete?value=50.00", 200,
     SHOP + "/product/1"),
    ("203.0.113.2", CHROME, "05/Mar/2026:09:00:00", "GET", "/product/2", 200,
     "https://www.google.com/search?q=Red+Shoes&ie=utf-8"),
    ("203.0.113.2", CHROME, "08/Mar/2026:12:00:00", "GET", "/", 200, "-"),
    ("203.0.113.2", CHROME, "08/Mar/2026:12:05:00", "GET", "/order/complete?value=80", 200,
     SHOP + "/"),
    ("203.0.113.3", IPHONE, "02/Mar/2026:14:00:00", "GET", "/?ref=acme", 200,
     "https://acmeblog.example.net/review"),
    ("203.0.113.3", IPHONE, "06/Mar/2026:15:00:00", "GET", "/landing?gclid=XYZ", 200,
     "https://www.google.com/"),
    ("203.0.113.3", IPHONE, "06/Mar/2026:15:03:00", "GET", "/order/complete?total=120", 200,
     SHOP + "/landing"),
    ("203.0.113.4", FIREFOX, "20/Jan/2026:10:00:00", "GET", "/", 200, "https://www.facebook.com/"),
    ("203.0.113.4", FIREFOX, "03/Mar/2026:10:00:00", "GET", "/", 200, "-"),
    ("203.0.113.4", FIREFOX, "03/Mar/2026:10:02:00", "GET", "/order/complete?value=30", 200,
     SHOP + "/"),
    ("203.0.113.5", GOOGLEBOT, "04/Mar/2026:08:00:00", "GET", "/order/complete?value=999", 200,
     "-"),
    ("203.0.113.6", CHROME, "09/Mar/2026:18:00:00", "GET", "/?aff=bigblog", 200,
     "https://bigblog.example.org/post"),
    ("203.0.113.6", CHROME, "09/Mar/2026:18:02:00", "GET", "/order/complete?value=40", 200,
     SHOP + "/"),
    ("203.0.113.6", CHROME, "09/Mar/2026:18:02:30", "GET", "/order/complete?value=40", 200,
     SHOP + "/"),
    ("203.0.113.7", FIREFOX, "07/Mar/2026:11:00:00", "GET", "/signup", 200, "https://t.co/abc"),
    ("203.0.113.7", FIREFOX, "07/Mar/2026:11:01:00", "POST", "/signup", 303, SHOP + "/signup"),
    ("203.0.113.7", FIREFOX, "07/Mar/2026:11:01:00", "GET", "/welcome", 200, SHOP + "/signup"),
    ("203.0.113.8", FIREFOX, "07/Mar/2026:13:00:00", "POST", "/signup", 303, "-"),
    ("203.0.113.9", FIREFOX, "01/Mar/2026:10:00:00", "GET", "/", 200, "-"),
    ("203.0.113.9", FIREFOX, "01/Mar/2026:10:00:30", "POST", "/api/stock", 204, SHOP + "/"),
]  # fmt: skip

GOALS = ["--goal", "/order/complete", "--goal", "signup=POST /signup"]
COMMISSIONS = ["--commission", "acme=10%", "--commission", "bigblog=2.50"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def journeys_log(tmp_path: Path) -> Path:
    lines = [
        line(client=c, agent=a, when=f"{t} +0000", request=f"{m} {target} HTTP/1.1", status=st,
             referrer=r)
        for c, a, t, m, target, st, r in HITS
    ]  # fmt: skip
    return write(tmp_path / "journeys.log", sorted(lines, key=_when))


def _when(text: str) -> str:
    from datetime import datetime

    stamp = text.split("[", 1)[1].split("]", 1)[0]
    return datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").isoformat()


def _run(log: Path, *args: str, commissions: bool = True) -> dict[str, Any]:
    res = CliRunner().invoke(
        cli,
        ["campaigns", str(log), "--site-host", "shop.example.com", "--top", "0", "--format",
         "json", *GOALS, *(COMMISSIONS if commissions else []), *args],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def _section(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["sections"] if s["name"] == name)


def _by(report: dict[str, Any], name: str, *keys: str) -> dict[Any, dict[str, Any]]:
    rows = _section(report, name)["rows"]
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def _credited(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {k: r["conversions"] for k, r in _by(report, "conversions", "goal", "source").items()}


def test_sources_of_visits_default_model(journeys_log: Path) -> None:
    r = _run(journeys_log)
    assert r["overview"]["visits"] == 10
    rows = _by(r, "sources", "source", "kind")
    expected = {
        # (source, kind): visits, page_views, bounce_rate, conversions, revenue
        ("(direct)", "direct"): (3, 5, 0.3333, 1, 30.0),
        ("newsletter", "email"): (1, 3, 0.0, 1, 50.0),
        ("Google", "search"): (1, 1, 1.0, 1, 80.0),
        ("acme", "affiliate"): (1, 1, 1.0, 0, 0.0),
        ("Google Ads", "ads"): (1, 2, 0.0, 1, 120.0),
        ("Facebook", "social"): (1, 1, 1.0, 0, 0.0),
        ("bigblog", "affiliate"): (1, 3, 0.0, 1, 40.0),
        ("X (Twitter)", "social"): (1, 2, 0.0, 1, 0.0),
    }
    assert set(rows) == set(expected)
    for key, (visits, pv, bounce, conv, revenue) in expected.items():
        row = rows[key]
        assert (row["visits"], row["page_views"], row["bounce_rate"]) == (visits, pv, bounce), key
        assert (row["conversions"], row["revenue"]) == (conv, revenue), key
        assert row["conversion_rate"] == round(conv / visits, 4), key
    # The people's page views and visits agree with the overview's.
    assert sum(r["page_views"] for r in rows.values()) == r["overview"]["page_views"] == 18


def test_conversions_headline_goals_and_crawler(journeys_log: Path) -> None:
    r = _run(journeys_log)
    conv = _section(r, "conversions")
    h = conv["headline"]
    # The crawler's /order/complete?value=999 and G's lone POST never count; E's reload once.
    assert h["conversions"] == 6 and h["revenue"] == 320.0 and h["visits"] == 10
    assert h["goals"] == {"/order/complete": 5, "signup": 1}
    assert _credited(r) == {
        ("/order/complete", "newsletter"): 1,
        ("/order/complete", "Google"): 1,
        ("/order/complete", "Google Ads"): 1,
        ("/order/complete", "(direct)"): 1,
        ("/order/complete", "bigblog"): 1,
        ("signup", "X (Twitter)"): 1,
    }


def test_last_model(journeys_log: Path) -> None:
    r = _run(journeys_log, "--attribution", "last")
    assert _credited(r) == {
        ("/order/complete", "newsletter"): 1,
        ("/order/complete", "(direct)"): 2,  # B's direct return and D
        ("/order/complete", "Google Ads"): 1,
        ("/order/complete", "bigblog"): 1,
        ("signup", "X (Twitter)"): 1,
    }
    assert _by(r, "sources", "source", "kind")[("(direct)", "direct")]["revenue"] == 110.0
    assert _by(r, "sources", "source", "kind")[("Google", "search")]["conversions"] == 0


def test_first_model_and_commissions(journeys_log: Path) -> None:
    r = _run(journeys_log, "--attribution", "first")
    assert _credited(r) == {
        ("/order/complete", "newsletter"): 1,
        ("/order/complete", "Google"): 1,
        ("/order/complete", "acme"): 1,  # C's first touch, before the ad click
        ("/order/complete", "(direct)"): 1,
        ("/order/complete", "bigblog"): 1,
        ("signup", "X (Twitter)"): 1,
    }
    aff = _by(r, "affiliates", "affiliate")
    assert (aff["acme"]["visits"], aff["acme"]["conversions"]) == (1, 1)
    assert (aff["acme"]["revenue"], aff["acme"]["commission"]) == (120.0, 12.0)
    assert (aff["bigblog"]["conversions"], aff["bigblog"]["commission"]) == (1, 2.5)
    assert _section(r, "affiliates")["headline"]["commission"] == 14.5
    behind = _section(r, "affiliate-conversions")["rows"]
    assert [(b["affiliate"], b["time"], b["value"], b["commission"]) for b in behind] == [
        ("acme", "2026-03-06 15:03:00", 120.0, 12.0),
        ("bigblog", "2026-03-09 18:02:00", 40.0, 2.5),
    ]
    # The visitor is a pseudonym: neither the address nor the agent.
    assert all(b["visitor"].startswith("v-") and "203.0" not in b["visitor"] for b in behind)


def test_default_model_commissions(journeys_log: Path) -> None:
    r = _run(journeys_log)
    aff = _by(r, "affiliates", "affiliate")
    assert (aff["acme"]["conversions"], aff["acme"]["commission"]) == (0, 0.0)
    assert (aff["bigblog"]["visits"], aff["bigblog"]["revenue"]) == (1, 40.0)
    assert aff["bigblog"]["commission"] == 2.5
    assert aff["acme"]["terms"] == "10% of revenue"
    assert aff["bigblog"]["terms"] == "2.50 per conversion"


def test_window(journeys_log: Path) -> None:
    # D's Facebook touch was 42 days before the conversion: outside 30 days, inside 60.
    assert _credited(_run(journeys_log))[("/order/complete", "(direct)")] == 1
    wide = _credited(_run(journeys_log, "--window", "60d"))
    assert wide[("/order/complete", "Facebook")] == 1
    assert ("/order/complete", "(direct)") not in wide
    first = _credited(_run(journeys_log, "--window", "60d", "--attribution", "first"))
    assert first[("/order/complete", "Facebook")] == 1


def test_campaigns_and_keyphrases(journeys_log: Path) -> None:
    r = _run(journeys_log)
    camp = _section(r, "campaigns")["rows"]
    assert [
        (c["utm_source"], c["utm_medium"], c["utm_campaign"], c["visits"], c["conversions"])
        for c in camp
    ] == [("newsletter", "email", "spring", 1, 1)]
    assert camp[0]["revenue"] == 50.0
    kp = _section(r, "keyphrases")["rows"]
    assert [(k["keyphrase"], k["engine"], k["visits"], k["conversions"]) for k in kp] == [
        ("red shoes", "Google", 1, 1)
    ]


def test_spilled_events_give_the_same_report(
    journeys_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _run(journeys_log, "--attribution", "first")
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 0)
    spilled = _run(journeys_log, "--attribution", "first")
    for name in ("sources", "conversions", "affiliates", "affiliate-conversions"):
        assert _section(spilled, name)["rows"] == _section(here, name)["rows"], name


def test_bots_include_lets_the_crawler_convert(journeys_log: Path) -> None:
    r = _run(journeys_log, "--bots", "include")
    h = _section(r, "conversions")["headline"]
    assert h["conversions"] == 7 and h["revenue"] == 320.0 + 999.0


@pytest.mark.parametrize(
    ("bots", "conversions", "revenue"),
    [("auto", 6, 320.0), ("exclude", 6, 320.0), ("include", 7, 1319.0), ("only", 1, 999.0)],
)
def test_who_converts_follows_bots(
    journeys_log: Path, bots: str, conversions: int, revenue: float
) -> None:
    """docs/metrics.md (qa21 #11): crawlers never convert by default nor under exclude;
    include counts them as people, and only does the same with robots alone."""
    h = _section(_run(journeys_log, "--bots", bots), "conversions")["headline"]
    assert (h["conversions"], h["revenue"]) == (conversions, revenue)


def test_sources_command_without_goals(journeys_log: Path) -> None:
    res = CliRunner().invoke(
        cli, ["sources", str(journeys_log), "--site-host", "shop.example.com", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert [s["name"] for s in r["sections"]] == ["sources", "campaigns", "keyphrases"]
    rows = _by(r, "sources", "source", "kind")
    assert all(row["conversions"] == 0 for row in rows.values())
    assert "no goal" in _section(r, "sources")["note"]
    # qa21: which hosts made visits internal was said only with --goal.
    assert "own hosts (configured): shop.example.com" in _section(r, "sources")["note"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--commission", "acme"], "--commission"),
        (["--commission", "acme=ten"], "percentage"),
        (["--goal", "re:(unclosed"], "regular expression"),
        (["--goal", "/x 9xx"], "not a status"),
        (["--window", "soon"], "duration"),
        (["--attribution", "linear"], "linear"),
    ],
)
def test_bad_options_are_one_line(journeys_log: Path, args: list[str], words: str) -> None:
    res = CliRunner().invoke(cli, ["campaigns", str(journeys_log), *args])
    assert res.exit_code in (2, 7), res.output
    assert words in res.output and "Traceback" not in res.output


def test_commission_names_match_affiliate_ids_ignoring_case(tmp_path: Path) -> None:
    # ?ref=ACME typed in a link, --commission acme=10%: the sale paid no commission, beside
    # an "acme" row of 0 visits, and nothing said why.
    ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    log = tmp_path / "a.log"
    log.write_text(
        f'198.51.100.1 - - [01/Jan/2026:10:00:00 +0000] "GET /?ref=ACME HTTP/1.1" 200 1 "-"'
        f' "{ua}"\n'
        f'198.51.100.1 - - [01/Jan/2026:10:02:00 +0000] "GET /order/complete?value=100 HTTP/1.1"'
        f' 200 1 "https://shop.example.com/" "{ua}"\n'
    )
    args = ["campaigns", str(log), "--site-host", "shop.example.com", "--format", "json",
            "--goal", "/order/complete"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--commission", "acme=10%", "--commission", "zeta=2"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    aff = _by(r, "affiliates", "affiliate")
    assert sorted(aff) == ["acme", "zeta"]  # spelled as the commission names it (rev21-c)
    assert (aff["acme"]["revenue"], aff["acme"]["commission"]) == (100.0, 10.0)
    assert aff["acme"]["terms"] == "10% of revenue" and aff["zeta"]["visits"] == 0
    assert "no visit from zeta named in the commissions" in _section(r, "affiliates")["note"]
    # Two terms for one id ignoring case: refused, not one of them picked.
    res = CliRunner().invoke(cli, [*args, "--commission", "acme=10%", "--commission", "ACME=2"])
    assert res.exit_code == 2 and "name one affiliate twice" in res.output  # usage, at once
    # The same from the config file: exit 7.
    conf = tmp_path / "c.toml"
    conf.write_text('[commissions]\nacme = "10%"\nACME = "2"\n')
    res = CliRunner().invoke(cli, [*args, "--config", str(conf)])
    assert res.exit_code == 7 and "commissions acme and ACME" in res.output


NGINX_COOKIE = (
    "nginx:$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    '"$http_referer" "$http_user_agent" "$cookie_ref"'
)


@pytest.fixture
def cookie_log(tmp_path: Path) -> Path:
    """K clicks an acme link on 20 Jan (no cookie yet: "-"), returns directly on 1 Mar, 40
    days later, with the acme cookie set and converts (100); L converts without a cookie (20).
    Written as nginx writes ``... "$http_user_agent" "$cookie_ref"``."""
    return write(
        tmp_path / "cookie.log",
        [
            line(client="203.0.113.20", when="20/Jan/2026:10:00:00 +0000",
                 request="GET /?ref=acme HTTP/1.1", referrer="https://acmeblog.example.net/",
                 extra=['"-"']),
            line(client="203.0.113.20", when="01/Mar/2026:10:00:00 +0000", extra=['"acme"']),
            line(client="203.0.113.20", when="01/Mar/2026:10:01:00 +0000", extra=['"acme"'],
                 request="GET /order/complete?value=100 HTTP/1.1"),
            line(client="203.0.113.21", when="01/Mar/2026:11:00:00 +0000", extra=['"-"']),
            line(client="203.0.113.21", when="01/Mar/2026:11:01:00 +0000", extra=['"-"'],
                 request="GET /order/complete?value=20 HTTP/1.1"),
        ],
    )  # fmt: skip


@pytest.mark.parametrize("model", ["last-non-direct", "last", "first"])
def test_referral_cookie_names_the_affiliate(cookie_log: Path, model: str) -> None:
    """The cookie logged in the line credits acme under every model, past the window; the
    conversion without a cookie stays direct (its visitor's only touch is none)."""
    r = _run(cookie_log, "--log-format", NGINX_COOKIE, "--affiliate-cookie", "ref",
             "--attribution", model)  # fmt: skip
    assert _credited(r) == {("/order/complete", "acme"): 1, ("/order/complete", "(direct)"): 1}
    aff = _by(r, "affiliates", "affiliate")
    assert (aff["acme"]["conversions"], aff["acme"]["commission"]) == (1, 10.0)
    assert "1 conversions credited by the ref cookie" in _section(r, "conversions")["note"]


def test_without_the_cookie_option_the_touch_is_past_the_window(cookie_log: Path) -> None:
    r = _run(cookie_log, "--log-format", NGINX_COOKIE)
    assert _credited(r) == {("/order/complete", "(direct)"): 2}
    # Another cookie name than the one logged: said, not silently ignored.
    r = _run(cookie_log, "--log-format", NGINX_COOKIE, "--affiliate-cookie", "aff")
    assert _credited(r) == {("/order/complete", "(direct)"): 2}
    assert "no cookie_aff field in the log" in _section(r, "conversions")["note"]


def test_referral_cookie_across_processes_and_spill(
    cookie_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs 2 (blocks parsed in worker processes) and spilled events keep the cookie."""
    args = ["--log-format", NGINX_COOKIE, "--affiliate-cookie", "ref"]
    want = {("/order/complete", "acme"): 1, ("/order/complete", "(direct)"): 1}
    assert _credited(_run(cookie_log, *args, "--jobs", "2")) == want
    monkeypatch.setattr("logaudit.engine.local.SPILL_BYTES", 0)
    assert _credited(_run(cookie_log, *args)) == want


def test_an_affiliate_known_only_by_its_cookie_is_listed(tmp_path: Path) -> None:
    """The click that set the cookie is older than the log: the affiliate has no visit here,
    yet its cookie-credited conversion and commission are listed (and its name, log text,
    is escaped on the terminal)."""
    log = write(
        tmp_path / "late.log",
        [line(client="203.0.113.20", when="01/Mar/2026:10:01:00 +0000",
              request="GET /order/complete?value=100 HTTP/1.1",
              extra=['"partner\x1b[31m7"'])],
    )  # fmt: skip
    r = _run(log, "--log-format", NGINX_COOKIE, "--affiliate-cookie", "ref",
             "--commission", "partner\x1b[31m7=5%")  # fmt: skip
    aff = _by(r, "affiliates", "affiliate")
    row = aff["partner\x1b[31m7"]
    assert (row["visits"], row["conversions"], row["revenue"], row["commission"]) == (
        0, 1, 100.0, 5.0,
    )  # fmt: skip
    term = CliRunner().invoke(
        cli, ["campaigns", str(log), "--log-format", NGINX_COOKIE, "--affiliate-cookie", "ref",
              "--goal", "/order/complete", "--section", "affiliates"],
    )  # fmt: skip
    assert term.exit_code == 0, term.output
    assert "\x1b" not in term.output and "partner" in term.output


def test_apache_cookie_directive(tmp_path: Path) -> None:
    """Apache's %{ref}C, the same journey."""
    log = write(
        tmp_path / "apache.log",
        [
            line(client="203.0.113.20", when="20/Jan/2026:10:00:00 +0000",
                 request="GET /?ref=acme HTTP/1.1", referrer="https://acmeblog.example.net/",
                 extra=["-"]),
            line(client="203.0.113.20", when="01/Mar/2026:10:01:00 +0000", extra=["acme"],
                 request="GET /order/complete?value=100 HTTP/1.1"),
        ],
    )  # fmt: skip
    fmt = 'apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{ref}C'
    r = _run(log, "--log-format", fmt, "--affiliate-cookie", "ref", "--attribution", "first")
    assert _credited(r) == {("/order/complete", "acme"): 1}


def test_every_week(journeys_log: Path) -> None:
    """ISO weeks: D1 20 Jan (W04); H1 1 Mar, a Sunday (W09); C1 D2 B1 C2 F1 B2 2-8 Mar (W10,
    converting D2 30, C2 120, B2 80 and F1's signup); E1 A1 9-10 Mar (W11: 40 + 50)."""
    r = _run(journeys_log, "--every", "week")
    rows = _section(r, "source-periods")["rows"]
    got = {x["period"]: (x["visits"], x["conversions"], x["revenue"]) for x in rows}
    assert got == {
        "2026-W04": (1, 0, 0.0),
        "2026-W05": (0, 0, 0.0),
        "2026-W06": (0, 0, 0.0),
        "2026-W07": (0, 0, 0.0),
        "2026-W08": (0, 0, 0.0),
        "2026-W09": (1, 0, 0.0),
        "2026-W10": (6, 4, 230.0),
        "2026-W11": (2, 2, 90.0),
    }
    w10 = next(x for x in rows if x["period"] == "2026-W10")
    assert (w10["direct"], w10["search"], w10["ads"], w10["affiliate"], w10["social"]) == (
        2, 1, 1, 1, 1,
    )  # fmt: skip


def test_hostile_tags_reach_outputs_escaped(tmp_path: Path) -> None:
    """Campaign tags, affiliate names and keyphrases are log text: the renderers escape them
    (a terminal escape is shown inert, a formula is not run by a spreadsheet)."""
    log = write(
        tmp_path / "hostile.log",
        [
            line(request="GET /?utm_source=%1B%5B2Jevil&utm_medium=email HTTP/1.1"),
            line(client="203.0.113.30", request="GET /?ref=%3DHYPERLINK(%22x%22) HTTP/1.1"),
        ],
    )
    term = CliRunner().invoke(cli, ["campaigns", str(log)])
    assert term.exit_code == 0, term.output
    assert "\x1b" not in term.output and "evil" in term.output
    csv = CliRunner().invoke(
        cli, ["campaigns", str(log), "--format", "csv", "--section", "sources"]
    )
    assert csv.exit_code == 0, csv.output
    assert "'=HYPERLINK" in csv.output and "\n=HYPERLINK" not in csv.output


def test_worker_processes_give_the_same_report(sample_logs: Path) -> None:
    """--jobs 2: touch events and queries cross processes and merge like the other tables."""
    args = ["campaigns", str(sample_logs), "--goal", "/order/complete", "--format", "json"]
    one = CliRunner().invoke(cli, [*args, "--jobs", "1", "--top", "0"])
    two = CliRunner().invoke(cli, [*args, "--jobs", "2", "--top", "0"])
    assert one.exit_code == two.exit_code == 0, one.output + two.output
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a["sections"] == b["sections"]
    assert _section(a, "conversions")["headline"]["conversions"] > 0


@pytest.mark.parametrize(
    ("model", "source"),
    [("last-non-direct", "(direct)"), ("first", "(direct)"), ("last", "(internal)")],
)
def test_no_touch_is_direct_even_when_the_visit_came_internally(
    tmp_path: Path, model: str, source: str
) -> None:
    """METRICS.md: with no touch, last-non-direct and first credit direct; `last` the
    converting visit itself. The one visit here came by the site's own link (a tab left open,
    the session timed out): it was credited "(internal)" under every model. The sources table
    lists direct's conversion though no visit came direct, so its column sums to the total."""
    log = write(
        tmp_path / "conv.log",
        [line(when="01/May/2026:10:00:00 +0000", request="GET /order/complete?value=5 HTTP/1.1",
              referrer=SHOP + "/cart")],
    )  # fmt: skip
    r = _run(log, "--attribution", model)
    assert _credited(r) == {("/order/complete", source): 1}
    sources = _by(r, "sources", "source")
    assert sum(x["conversions"] for x in sources.values()) == 1
    assert sources[source]["conversions"] == 1
    assert sources["(internal)"]["visits"] == 1
    if source == "(direct)":
        assert sources["(direct)"]["visits"] == 0
        assert sources["(direct)"]["conversion_rate"] is None


def test_top_keeps_the_row_of_conversions_without_a_visit(tmp_path: Path) -> None:
    """(direct) credited with conversions though no visit came direct has 0 visits, so it
    sorted last and --top 2 cut it first: the sources table lost 2 of 3 conversions. A row of
    conversions without a visit is kept past the cut (listed last), so its column sums to
    the total; the rows with visits are cut as before."""
    hits = [
        ("10.0.0.1", "10:00:00", "/order/complete?value=5", SHOP + "/cart"),
        ("10.0.0.2", "10:00:00", "/", "https://www.google.com/"),
        ("10.0.0.2", "10:01:00", "/order/complete?value=7.5", SHOP + "/"),
        ("10.0.0.3", "10:00:00", "/", "https://www.google.com/"),
        ("10.0.0.4", "11:00:00", "/x", SHOP + "/"),
        ("10.0.0.4", "11:01:00", "/order/complete?value=1", SHOP + "/cart"),
    ]
    log = write(
        tmp_path / "conv.log",
        [line(client=c, when=f"01/May/2026:{t} +0000", request=f"GET {u} HTTP/1.1", referrer=r)
         for c, t, u, r in hits],
    )  # fmt: skip
    every = _section(_run(log), "sources")
    # (internal) and Google tie on 2 visits: Google's conversion ranks it first (faults22 #4).
    assert [r["source"] for r in every["rows"]] == ["Google", "(internal)", "(direct)"]
    top = _section(_run(log, "--top", "2"), "sources")
    assert top["rows"] == every["rows"] and top["total_rows"] == 3
    assert sum(r["conversions"] for r in top["rows"]) == 3
    one = _section(_run(log, "--top", "1"), "sources")
    assert [r["source"] for r in one["rows"]] == ["Google", "(direct)"]


def _value_log(path: Path, hits: list[tuple[str, str]]) -> Path:
    """Per (client, value): a visit from ?ref=acme, then the goal with that order value."""
    return write(
        path,
        [line(client=c, when=f"01/May/2026:10:0{i}:00 +0000", request=f"GET {u} HTTP/1.1")
         for c, v in hits
         for i, u in enumerate(["/?ref=acme", f"/order/complete?value={v}"])],
    )  # fmt: skip


def test_an_order_value_that_is_no_plain_number_is_ignored_and_counted(tmp_path: Path) -> None:
    """qa21: value=-500 paid a commission of -50.00 (lowering the total owed) and 1e6 one of
    100,000.00. Such a value is ignored: the conversion counts, with no value, and the note
    says how many values were ignored."""
    hits = [("10.0.0.1", "-500"), ("10.0.0.2", "1e6"), ("10.0.0.3", "1_000"), ("10.0.0.4", "20")]
    log = _value_log(tmp_path / "v.log", hits)
    r = _run(log)
    aff = _by(r, "affiliates", "affiliate")["acme"]
    assert (aff["conversions"], aff["revenue"], aff["commission"]) == (4, 20.0, 2.0)
    values = sorted(str(x["value"]) for x in _section(r, "affiliate-conversions")["rows"])
    assert values == ["20.0", "None", "None", "None"]
    assert "3 order values ignored" in _section(r, "conversions")["note"]


def test_an_order_value_is_bounded_so_totals_stay_finite(tmp_path: Path) -> None:
    """rev21-c: a plain decimal of up to 308 digits was read, and two conversions of
    value=9...9 (308 nines) summed to revenue Infinity: ``"revenue": Infinity``, not JSON.
    At most 12 integer digits and 3 decimals are read; a longer value is ignored, counted."""
    big = "9" * 308
    hits = [("10.0.0.1", big), ("10.0.0.2", big), ("10.0.0.3", "1" * 13), ("10.0.0.4", "1.2345"),
            ("10.0.0.5", "999999999999.5")]  # fmt: skip
    log = _value_log(tmp_path / "inf.log", hits)
    res = CliRunner().invoke(
        cli, ["campaigns", str(log), "--goal", "/order/complete", "--commission", "acme=10%",
              "--top", "0", "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output

    def no_constant(name: str) -> None:
        raise AssertionError(f"not JSON: {name}")

    r = json.loads(res.stdout, parse_constant=no_constant)
    aff = _by(r, "affiliates", "affiliate")["acme"]
    assert (aff["conversions"], aff["revenue"], aff["commission"]) == (
        5, 999999999999.5, 99999999999.95,
    )  # fmt: skip
    assert "4 order values ignored" in _section(r, "conversions")["note"]


def test_top_keeps_the_affiliate_owed_a_commission(tmp_path: Path) -> None:
    """qa21: affiliates ranked by visits and cut to --top dropped the one owed the money
    (fewest visits, the only conversion) while the note still summed its commission. As in
    sources, a row with conversions or a commission is kept past the cut, listed last, in
    every format."""
    hits = [("10.0.0.1", "/?ref=big"), ("10.0.0.2", "/?ref=big"), ("10.0.0.3", "/?ref=big"),
            ("10.0.0.4", "/?ref=mid"), ("10.0.0.5", "/?ref=mid"), ("10.0.0.6", "/?ref=payer"),
            ("10.0.0.6", "/order/complete?value=30")]  # fmt: skip
    log = write(
        tmp_path / "aff.log",
        [line(client=c, when=f"01/May/2026:10:0{i}:00 +0000", request=f"GET {u} HTTP/1.1")
         for i, (c, u) in enumerate(hits)],
    )  # fmt: skip
    args = ["--commission", "payer=10%", "--top", "1"]
    aff = _section(_run(log, *args), "affiliates")
    assert [r["affiliate"] for r in aff["rows"]] == ["big", "payer"]
    assert aff["rows"][1]["commission"] == 3.0 and aff["total_rows"] == 5  # acme, bigblog: no visit
    for fmt in ("text", "csv", "html", "markdown"):
        res = CliRunner().invoke(
            cli, ["campaigns", str(log), "--goal", "/order/complete", *args, "--format", fmt,
                  "--section", "affiliates"],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        assert re.search(r"\bpayer\b", res.stdout) and not re.search(r"\bmid\b", res.stdout), fmt


def test_one_row_per_affiliate_id_ignoring_case(tmp_path: Path) -> None:
    """qa21: ?ref=ACME, ?ref=acme and ?ref=Acme were three rows of affiliates and sources,
    though commissions match ids ignoring case; with a referral cookie the visit and the
    sales of one partner sat in different rows. One row per id, spelled (no commission names
    it) as first seen: the earliest spelling sorts last, so sorting cannot pass for it
    (rev21-c); then a cookie-credited conversion before every visit gives the spelling."""
    hits = [("10.0.0.2", "11:00:00", "/?ref=ACME", '"-"'),
            ("10.0.0.2", "11:01:00", "/order/complete?value=10", '"-"'),
            ("10.0.0.1", "10:00:00", "/?ref=acme", '"-"'),
            ("10.0.0.3", "12:00:00", "/?ref=Acme", '"-"'),
            ("10.0.0.4", "13:00:00", "/order/complete?value=30", '"ACME"'),
            ("10.0.0.5", "14:00:00", "/?ref=bigblog", '"-"')]  # fmt: skip
    first = ("10.0.0.9", "09:00:00", "/order/complete?value=5", '"aCme"')
    for extra, name, conversions, revenue in (([], "acme", 2, 40.0), ([first], "aCme", 3, 45.0)):
        log = write(
            tmp_path / "case.log",
            [line(client=c, when=f"01/May/2026:{t} +0000", request=f"GET {u} HTTP/1.1",
                  extra=[x])
             for c, t, u, x in sorted(hits + extra, key=lambda h: h[1])],
        )  # fmt: skip
        r = _run(log, "--log-format", NGINX_COOKIE, "--affiliate-cookie", "ref", commissions=False)
        aff = _by(r, "affiliates", "affiliate")
        assert sorted(aff) == sorted([name, "bigblog"])
        row = aff[name]
        assert (row["visits"], row["conversions"], row["revenue"]) == (3, conversions, revenue)
        src = _by(r, "sources", "source", "kind")
        assert (src[name, "affiliate"]["visits"], src[name, "affiliate"]["conversions"]) == (
            3, conversions,
        )  # fmt: skip
        assert not any(s.casefold() == "acme" and s != name for s, _ in src)
        assert {x["affiliate"] for x in _section(r, "affiliate-conversions")["rows"]} == {name}
        assert _credited(r) == {("/order/complete", name): conversions}


def test_an_affiliate_is_spelled_as_its_commission_names_it(tmp_path: Path) -> None:
    """rev21-c: "first seen" depended on the report's period: the whole log said ACME, a
    report from 11:30 on said Acme, for one partner paid under one --commission. A NAME of
    --commission matching the id ignoring case is its spelling, in every period."""
    hits = [("10.0.0.1", "10:00:00", "/?ref=ACME"), ("10.0.0.2", "11:00:00", "/?ref=acme"),
            ("10.0.0.3", "12:00:00", "/?ref=Acme"), ("10.0.0.4", "13:00:00", "/?ref=BigBlog"),
            ("10.0.0.3", "12:01:00", "/order/complete?value=30")]  # fmt: skip
    log = write(
        tmp_path / "spell.log",
        [line(client=c, when=f"01/May/2026:{t} +0000", request=f"GET {u} HTTP/1.1")
         for c, t, u in sorted(hits, key=lambda h: h[1])],
    )  # fmt: skip
    for since in ([], ["--since", "2026-05-01T11:30:00"]):
        for name in ("acme", "aCMe"):
            r = _run(log, "--commission", f"{name}=10%", *since, commissions=False)
            aff = _by(r, "affiliates", "affiliate")
            assert sorted(aff) == ["BigBlog", name], (since, name)
            assert aff[name]["commission"] == 3.0 and aff[name]["visits"] == (1 if since else 3)
            src = [s for s, k in _by(r, "sources", "source", "kind") if k == "affiliate"]
            assert sorted(src) == ["BigBlog", name]
            assert {x["affiliate"] for x in _section(r, "affiliate-conversions")["rows"]} == {name}
            assert _credited(r) == {("/order/complete", name): 1}


def test_a_tie_at_the_top_cut_keeps_the_row_with_conversions(tmp_path: Path) -> None:
    """faults22 #4: three campaigns with one visit each; --top 1 kept 'alpha' (first by name,
    no conversion) and cut 'gamma' (a conversion of 90.00). Ties on visits go to conversions,
    then revenue, then the name: 'gamma', then 'beta' (40.00), then 'alpha'; the same in the
    terminal, JSON, CSV and HTML."""
    hits = [(1, "alpha", None), (2, "beta", 40), (3, "gamma", 90), (4, "delta", 40)]
    lines = []
    for n, name, value in hits:
        lines.append(line(client=f"203.0.113.{n}", when=f"10/Mar/2026:10:00:0{n} +0000",
                          request=f"GET /?utm_source={name}&utm_medium=email HTTP/1.1"))
        if value is not None:
            lines.append(line(client=f"203.0.113.{n}", when=f"10/Mar/2026:10:01:0{n} +0000",
                              request=f"GET /order/complete?value={value} HTTP/1.1"))
    log = write(tmp_path / "ties.log", lines)
    args = ["campaigns", str(log), "--goal", "/order/complete", "--section", "campaigns"]

    def shown(top: str, fmt: str) -> str:
        res = CliRunner().invoke(cli, [*args, "--top", top, "--format", fmt])
        assert res.exit_code == 0, res.output
        return res.stdout

    rows = _section(json.loads(shown("0", "json")), "campaigns")["rows"]
    assert [r["utm_source"] for r in rows] == ["gamma", "beta", "delta", "alpha"]
    top = _section(json.loads(shown("2", "json")), "campaigns")["rows"]
    assert [r["utm_source"] for r in top] == ["gamma", "beta"]
    csv_rows = shown("2", "csv").splitlines()[1:]
    assert [r.split(",")[0] for r in csv_rows] == ["gamma", "beta"]
    for fmt in ("terminal", "html"):
        text = shown("2", fmt)
        assert "gamma" in text and "beta" in text, fmt
        assert "alpha" not in text and "delta" not in text, fmt
