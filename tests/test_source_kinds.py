"""The classification of a visit's source (enrich/sources.py) against a table of known cases
and real referrers from ../shared/data/logs, and the goal grammar (enrich/goals.py)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from loglines import isolate, line, write

from logaudit.cli import cli
from logaudit.enrich.goals import VALUE_PARAMS, parse_goal, query_values
from logaudit.enrich.sources import SourceTables, classify
from logaudit.errors import ConfigError

OWN = ["shop.example.com"]

# (referrer, entry query) -> (kind, source, keyphrase, affiliate)
CASES = [
    ("-", "", ("direct", "(direct)", "", "")),
    ("", "", ("direct", "(direct)", "", "")),
    ("not a url", "", ("direct", "(direct)", "", "")),
    ("https://shop.example.com/cart", "", ("internal", "(internal)", "", "")),
    ("https://www.shop.example.com/", "", ("internal", "(internal)", "", "")),
    ("https://www.google.com/search?q=Red+Shoes", "", ("search", "Google", "red shoes", "")),
    ("https://www.google.co.uk/", "", ("search", "Google", "", "")),
    ("https://www.google.com.br/url?q=x", "", ("search", "Google", "x", "")),
    ("https://www.bing.com/search?q=blue%20bag&form=QBLH", "", ("search", "Bing", "blue bag", "")),
    ("https://yandex.ru/search/?text=%D0%BA%D0%BE%D1%82", "", ("search", "Yandex", "кот", "")),
    ("https://ya.ru/", "", ("search", "Yandex", "", "")),
    ("https://www.baidu.com/s?wd=%E9%9E%8B", "", ("search", "Baidu", "鞋", "")),
    ("https://search.yahoo.com/search?p=tent", "", ("search", "Yahoo!", "tent", "")),
    ("https://duckduckgo.com/", "", ("search", "DuckDuckGo", "", "")),
    ("android-app://com.google.android.googlequicksearchbox/", "", ("search", "Google", "", "")),
    ("https://mail.google.com/mail/u/0/", "", ("email", "Gmail", "", "")),
    ("android-app://com.google.android.gm/", "", ("email", "Gmail", "", "")),
    ("https://outlook.live.com/mail/0/", "", ("email", "Outlook", "", "")),
    ("https://l.facebook.com/l.php?u=x", "", ("social", "Facebook", "", "")),
    ("https://t.co/AbC", "", ("social", "X (Twitter)", "", "")),
    ("https://www.reddit.com/r/x/", "", ("social", "Reddit", "", "")),
    ("https://news.ycombinator.com/item?id=1", "", ("social", "Hacker News", "", "")),
    ("https://Blog.Example.org:8080/post?id=2", "", ("referral", "blog.example.org", "", "")),
    # Tags win over the referrer; click ids over affiliate parameters; case kept.
    ("https://www.google.com/", "utm_source=Newsletter&utm_medium=email&utm_campaign=Spring",
     ("email", "Newsletter", "", "")),
    ("-", "utm_source=google&utm_medium=cpc&gclid=1", ("ads", "google", "", "")),
    ("-", "utm_campaign=launch", ("campaign", "launch", "", "")),
    ("-", "mtm_source=forum&mtm_medium=banner", ("ads", "forum", "", "")),
    ("-", "pk_campaign=summer", ("campaign", "summer", "", "")),
    ("-", "utm_source=acme&utm_medium=affiliate", ("affiliate", "acme", "", "acme")),
    ("https://www.google.com/", "gclid=Cj0K&ref=acme", ("ads", "Google Ads", "", "")),
    ("-", "msclkid=1", ("ads", "Microsoft Ads", "", "")),
    ("-", "ttclid=1", ("ads", "TikTok Ads", "", "")),
    ("-", "li_fat_id=1", ("ads", "LinkedIn Ads", "", "")),
    ("-", "twclid=1", ("ads", "X Ads", "", "")),
    ("-", "gbraid=1", ("ads", "Google Ads", "", "")),
    ("https://m.facebook.com/", "fbclid=IwAR", ("social", "Facebook", "", "")),
    ("https://acmeblog.example.net/", "ref=acme", ("affiliate", "acme", "", "acme")),
    ("-", "page=2&via=bigblog", ("affiliate", "bigblog", "", "bigblog")),
    ("-", "page=2", ("direct", "(direct)", "", "")),
    ("-", "ref=", ("direct", "(direct)", "", "")),  # an empty value names no one
]  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def test_known_cases() -> None:
    refs = [c[0] for c in CASES]
    queries = [c[1] for c in CASES]
    got = classify(refs, queries, OWN, SourceTables.load())
    for i, (ref, query, expected) in enumerate(CASES):
        row = got.iloc[i]
        assert (row["kind"], row["source"], row["keyphrase"], row["affiliate"]) == expected, (
            ref,
            query,
        )
    tagged = got.iloc[23]
    assert (tagged["utm_source"], tagged["utm_medium"], tagged["utm_campaign"]) == (
        "Newsletter",
        "email",
        "Spring",
    )


def test_tables_extend_from_settings() -> None:
    tables = SourceTables.load(
        {
            "search_engines": {
                "Intranet search": {"hosts": ["find.corp.example"], "params": ["s"]}
            },
            "social_networks": {"Lemmy": ["lemmy.world"]},
            "webmail": {"Corp mail": ["webmail.corp.example"]},
            "click_ids": {"xclid": ["Example Ads", "ads"]},
        },
        affiliate_params=("partner_id",),
    )
    got = classify(
        ["https://find.corp.example/?s=Shoes", "https://lemmy.world/post/1",
         "https://webmail.corp.example/", "-", "-", "-"],
        ["", "", "", "xclid=1", "partner_id=p7", "ref=acme"],
        OWN,
        tables,
    )  # fmt: skip
    assert list(zip(got["kind"], got["source"], strict=True)) == [
        ("search", "Intranet search"),
        ("social", "Lemmy"),
        ("email", "Corp mail"),
        ("ads", "Example Ads"),
        ("affiliate", "p7"),
        ("direct", "(direct)"),  # affiliate_params replaced the defaults
    ]
    assert got["keyphrase"].iloc[0] == "shoes"


def test_bad_tables_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        SourceTables.load({"engines": {}})
    with pytest.raises(ConfigError):
        SourceTables.load({"click_ids": {"xclid": "Example"}})


def test_sources_table_from_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'site_hosts = ["shop.example.com"]\n'
        '[goals]\norder = "/order/complete"\n'
        '[commissions]\nacme = "5%"\n'
        '[sources.social_networks]\nLemmy = ["lemmy.world"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("LOGAUDIT_CONFIG", str(cfg))
    log = write(
        tmp_path / "a.log",
        [
            line(request="GET /?ref=acme HTTP/1.1", referrer="https://lemmy.world/post/1"),
            line(
                when="01/Mar/2024:10:01:00 +0000", request="GET /order/complete?value=20 HTTP/1.1"
            ),
        ],
    )
    res = CliRunner().invoke(cli, ["campaigns", str(log), "--format", "json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    sections = {s["name"]: s for s in r["sections"]}
    # The ref parameter comes before the referrer; the named goal and commission apply.
    assert [(x["source"], x["kind"]) for x in sections["sources"]["rows"]] == [
        ("acme", "affiliate")
    ]
    assert sections["conversions"]["headline"]["goals"] == {"order": 1}
    assert sections["affiliates"]["rows"][0]["commission"] == 1.0


def test_real_shop_log_google_referrers(shared_data: Path) -> None:
    """The shop log (zanbil.ir, nginx combined + X-Forwarded-For) has two people arriving from
    Google: one with a Persian keyphrase (q=%D8%B3%D8%B1%D8%AE+%DA%A9%D9%86), one without."""
    log = shared_data / "logs" / "lnav" / "logfile_shop_access_log.0"
    res = CliRunner().invoke(cli, ["sources", str(log), "--format", "json", "--top", "0"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    sections = {s["name"]: s for s in r["sections"]}
    rows = {(x["source"], x["kind"]): x for x in sections["sources"]["rows"]}
    assert rows[("Google", "search")]["visits"] == 2
    assert [(k["keyphrase"], k["engine"]) for k in sections["keyphrases"]["rows"]] == [
        ("سرخ کن", "Google")
    ]
    # The shop's own host was inferred: its navigation is internal, not a referral.
    assert not any(src.endswith("zanbil.ir") for src, _ in rows)
    assert ("(internal)", "internal") in rows


def _referrers(path: Path) -> list[str]:
    out = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.search(r'" \d{3} \S+ "([^"]*)"', raw)
        if m and not raw.startswith("#"):
            out.append(m.group(1))
    return out


def test_real_awstats_referrers(shared_data: Path) -> None:
    """AWStats' test log: Google France (a cache: query), Google with sourceid=navclient, and
    Yahoo! Mail's webmail (us.f109.mail.yahoo.com)."""
    refs = _referrers(shared_data / "logs" / "awstats" / "testglobal.log")
    picked = [r for r in refs if re.search(r"google|yahoo", r)]
    assert picked, "the AWStats test log has Google and Yahoo referrers"
    got = classify(picked, [""] * len(picked), OWN, SourceTables.load())
    kinds = dict(
        zip(picked, zip(got["kind"], got["source"], got["keyphrase"], strict=True), strict=True)
    )
    for ref, (kind, source, phrase) in kinds.items():
        if "mail.yahoo.com" in ref:
            assert (kind, source) == ("email", "Yahoo! Mail"), ref
        elif "google." in ref:
            assert (kind, source) == ("search", "Google"), ref
            assert phrase, ref  # both carry q=
    assert any(p.startswith("cache:") for _, _, p in kinds.values())


@pytest.mark.parametrize(
    ("spec", "name", "methods", "statuses", "page_only"),
    [
        ("/order/complete", "/order/complete", (), (), True),
        ("order=/order/*", "order", (), (), True),
        ("POST /checkout", "POST /checkout", ("POST",), (), False),
        ("pay=POST,PUT /pay 2xx,302", "pay", ("POST", "PUT"), ((200, 299), (302, 302)), False),
        ("re:^/thanks/\\d+$ 200", "re:^/thanks/\\d+$ 200", (), ((200, 200),), False),
    ],
)
def test_goal_grammar(
    spec: str, name: str, methods: tuple[str, ...], statuses: tuple[tuple[int, int], ...],
    page_only: bool,
) -> None:  # fmt: skip
    g = parse_goal(spec)
    assert (g.name, g.methods, g.statuses, g.page_only) == (name, methods, statuses, page_only)


@pytest.mark.parametrize("spec", ["", "order", "/x 9xx", "re:(", "POST"])
def test_bad_goals(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_goal(spec)


def _value(query: str, params: tuple[str, ...] = VALUE_PARAMS) -> float:
    """The order value one query string carries, NaN when none (``query_values``' first)."""
    return float(query_values([query], params)[0][0])


def test_query_value() -> None:
    assert _value("order=7&value=12.50") == 12.5
    assert _value("total=abc&amount=3") == 3.0  # the first parameter that is a number
    assert _value("value=1&value=2") == 1.0
    assert _value("revenue=9", ("price",)) is not None
    assert math.isnan(_value("revenue=9", ("price",)))
    assert math.isnan(_value("value=inf"))
    assert math.isnan(_value(""))


@pytest.mark.parametrize(
    ("text", "value"),
    [("123456789012", 123456789012.0), ("123456789012.125", 123456789012.125), ("0.001", 0.001),
     ("1234567890123", None), ("1.2345", None), ("9" * 308, None)],
)  # fmt: skip
def test_an_order_value_has_12_digits_3_decimals_at_most(text: str, value: float | None) -> None:
    """rev21-c: 308 digits were read (two such made revenue inf, and 30 digits float noise);
    at most 12 integer digits and 3 decimals, exact in float64, are a value."""
    got = _value(f"value={text}")
    assert got == value if value is not None else math.isnan(got)


@pytest.mark.parametrize(
    "text", ["-500", "1_000", "%D9%A1%D9%A2", "1e6", "0x10", "nan", "inf", "1" * 400, "12.", ".5"]
)
def test_an_order_value_is_a_plain_non_negative_decimal(text: str) -> None:
    """qa21: float() read -500, 1_000, Arabic-Indic 12 and 1e6 as values, so a negative value
    lowered the commissions owed and 1e6 made a 100,000.00 commission."""
    assert math.isnan(_value(f"value={text}"))
    assert _value(f"value={text}&total=4.25") == 4.25  # the next parameter that is one


def test_query_values_say_which_values_were_ignored() -> None:
    values, ignored = query_values(["value=-5", "value=5", "total=", "x=1", "value=a&total=2", ""])
    assert list(ignored) == [True, False, False, False, False, False]
    assert values[1] == 5.0 and values[4] == 2.0 and np.isnan(values[[0, 2, 3, 5]]).all()


def test_an_order_value_is_stripped_of_ascii_spaces_only_and_blank_is_none() -> None:
    """rev21-c: str.strip() also removed Unicode spaces (a no-break space around 12 was read
    as 12), and value=%20 was counted as ignored while value= was not. ASCII whitespace is
    stripped; a blank value is no value (not counted), whatever its spelling."""
    queries = ["value=%20", "value=", "value=+", "value=%C2%A012%C2%A0", "value=%E2%80%8312",
               "value=%2012%09", "value=%20&total=3", "value=%20&value=4",
               "value=&value=4"]  # fmt: skip
    values, ignored = query_values(queries)
    assert list(ignored) == [False, False, False, True, True, False, False, False, False]
    assert np.isnan(values[:5]).all() and list(values[5:]) == [12.0, 3.0, 4.0, 4.0]


def test_click_id_values_are_parsed_once_with_the_same_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Queries that differ only in a click id's value are parsed once (classify's
    ``click_id_regex``): over random queries of tags, click ids (blank, escaped, '+', ';'
    separated, an escaped name) and affiliate parameters, every column equals parsing each
    distinct query."""
    import random

    from logaudit.enrich import sources as src

    tables = src.SourceTables.load()
    rnd = random.Random(16)
    names = ["gclid", "gclid", "fbclid", "msclkid", "gcl%69d", "utm_source", "utm_medium"]
    names += ["utm_campaign", "ref", "aff", "x"]
    values = ["", "abc", "%20", "+", "Ab-9", "a+b", "%41bc", " ", "x%20", ".", "~z", "Cj0KCQiAq"]
    queries = [
        rnd.choice(["&", "&", ";"]).join(
            f"{rnd.choice(names)}={rnd.choice(values)}" for _ in range(rnd.randint(1, 4))
        )
        for _ in range(5000)
    ]
    referrers = ["-"] * len(queries)
    once = src.classify(referrers, queries, [], tables)
    assert set(once["kind"]) >= {"ads", "campaign", "direct", "affiliate"}
    src._query_source.cache_clear()
    monkeypatch.setattr(src.SourceTables, "click_id_regex", property(lambda self: None))
    each = src.classify(referrers, queries, [], tables)
    assert once.equals(each)
