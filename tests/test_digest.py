"""logaudit digest: the headline against the day before and a week before, the verdict subject,
--detail, agreement with summary for the same day, and mailing it."""

from __future__ import annotations

import email
import json
from datetime import date, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from logaudit.cli import cli
from logaudit.errors import ExitCode
from tests.loglines import isolate

DAY = date(2026, 3, 10)  # the digest's day
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def line(d: date, n: int, status: int = 200, path: str = "/") -> str:
    ts = f"{d.strftime('%d/%b/%Y')}:{10 + n % 10:02d}:{n % 60:02d}:00 +0000"
    client = f"10.0.{n // 250}.{n % 250 + 1}"
    return f'{client} - - [{ts}] "GET {path} HTTP/1.1" {status} 100 "-" "{UA}"\n'


def day_lines(d: date, hits: int, errors: int = 0) -> list[str]:
    out = [line(d, i) for i in range(hits - errors)]
    out += [line(d, 500 + i, 503, "/pay") for i in range(errors)]
    # A hit at each end of the day, so the day reads as complete from the data alone.
    out.insert(0, line(d, 900).replace(":10:00:00", ":00:01:00", 1))
    return out


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    lines: list[str] = []
    for back in range(14, 0, -1):
        d = DAY - timedelta(days=back)
        lines += day_lines(d, 10 if back == 7 else 20 if back == 1 else 15)
    lines += day_lines(DAY, 40, errors=2)
    lines += day_lines(DAY + timedelta(days=1), 7)  # after the period: must not count
    p = tmp_path / "access.log"
    p.write_text("".join(lines))
    return p


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def digest_json(log: Path, *more: str) -> dict[str, Any]:
    r = run("digest", log, "--since", DAY.isoformat(), "--format", "json", *more)
    assert r.exit_code == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def test_headline_against_the_day_before_and_a_week_before(log: Path) -> None:
    doc = digest_json(log)
    assert doc["command"] == "digest"
    head = doc["sections"][0]
    assert head["name"] == "digest"
    rows = {r["metric"]: r for r in head["rows"]}
    # 41 = 40 + the early hit; the day before 21, a week before 11.
    assert rows["requests"]["last"] == 41 == doc["overview"]["requests"]
    assert rows["requests"]["previous"] == 21
    assert rows["requests"]["week_before"] == 11
    assert rows["requests"]["change_pct"] == round((41 - 21) / 21 * 100, 1)
    assert rows["requests"]["week_change"].startswith("▲ +")
    assert rows["rate_5xx"]["last"] == round(2 / 41, 4)
    assert rows["rate_5xx"]["previous"] == 0
    assert rows["visitors"]["last"] == doc["overview"]["unique_visitors"]
    assert list(rows) == ["requests", "visitors", "visits", "page_views", "bandwidth",
                          "rate_4xx", "rate_5xx"]


def test_digest_day_agrees_with_summary(log: Path) -> None:
    doc = digest_json(log)
    r = run("summary", log, "--since", DAY.isoformat(), "--until",
            (DAY + timedelta(days=1)).isoformat(), "--format", "json")
    ov = json.loads(r.stdout)["overview"]
    for k in ("requests", "page_views", "unique_visitors", "bandwidth", "status_5xx"):
        assert doc["overview"][k] == ov[k], k


def test_verdict_subject(log: Path) -> None:
    doc = digest_json(log, "--site-host", "shop.example.com")
    v = doc["overview"]["verdict"]
    rows = {r["metric"]: r for r in doc["sections"][0]["rows"]}
    visits = rows["visits"]["last"]
    pct = rows["visits"]["change_pct"]
    assert v == (
        f"[logaudit] shop.example.com {DAY.isoformat()}: {visits:,} visits ({pct:+.0f} %), "
        f"5xx {2 / 41 * 100:.1f} % (!)"
    )
    assert doc["overview"]["flagged"] is True


def test_detail_levels_choose_sections_and_rows(log: Path) -> None:
    low = [s["name"] for s in digest_json(log, "--detail", "low")["sections"]]
    med = [s["name"] for s in digest_json(log)["sections"]]
    high = [s["name"] for s in digest_json(log, "--detail", "high")["sections"]]
    assert low[0] == med[0] == high[0] == "digest"
    assert set(low) < set(med) < set(high)
    assert "referring-sites" in med and "referring-sites" not in low
    assert "status" in high and "status" not in med
    only = digest_json(log, "--section", "status")["sections"]
    assert [s["name"] for s in only] == ["digest", "status"]


def test_digest_without_traffic_in_the_period_still_reports(log: Path) -> None:
    r = run("digest", log, "--since", (DAY + timedelta(days=5)).isoformat(), "--format", "json")
    assert r.exit_code == ExitCode.NO_DATA
    doc = json.loads(r.stdout)
    assert doc["overview"]["verdict"].endswith("no requests (!)")


def test_digest_default_period_named_when_it_holds_no_request(log: Path) -> None:
    # The log (March 2026) has requests, none yesterday: "no request in the input" read as
    # an empty log at 06:00.
    r = run("digest", log)
    assert r.exit_code == ExitCode.NO_DATA
    assert "no request in the digest's default period (yesterday, " in r.stderr
    assert "in the input" not in r.stderr
    r = run("digest", log, "--method", "FOO")
    assert "default period (yesterday, " in r.stderr and "filters (method FOO)" in r.stderr


def test_the_default_period_named_is_the_day_read(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A digest run across midnight: the message names the day it read, not the one the
    clock says once the run is over (the period was computed again after the run)."""
    from datetime import datetime

    from logaudit import digest

    real = digest.period_of
    given: list[datetime] = []

    def ticking(settings: Any) -> tuple[datetime, datetime]:
        since, until = real(settings)
        later = timedelta(days=len(given))  # each call a day after the last
        given.append(since + later)
        return since + later, until + later

    monkeypatch.setattr(digest, "period_of", ticking)
    r = run("digest", log)
    assert r.exit_code == ExitCode.NO_DATA
    assert f"(yesterday, {given[0]:%Y-%m-%d};" in r.stderr, r.stderr


def test_digest_csv_says_an_unchanged_metric_without_a_guard_quote(log: Path) -> None:
    # "= +0.0%" began with "=", so the CSV formula guard wrote it "'= +0.0%".
    import csv
    import io

    r = run("digest", log, "--since", DAY.isoformat(), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    digest = {row["metric"]: row for row in rows if row["section"] == "digest"}
    assert digest["rate_4xx"]["change"] == "≈ 0.0%"  # no 4xx either day
    assert not any(v.startswith("'") for row in rows for v in row.values() if v)


def test_digest_mailed_to_the_configured_readers(log: Path, tmp_path: Path) -> None:
    conf = tmp_path / "logaudit.toml"
    conf.write_text(
        f'logs = ["{log}"]\nsite_hosts = ["shop.example.com"]\n'
        '[mail]\nto = ["owner@example.com"]\n'
    )
    r = CliRunner().invoke(
        cli,
        ["digest", "--since", DAY.isoformat(), "--dry-run", "-o", "d.eml"],
        env={"LOGAUDIT_CONFIG": str(conf)},
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    msg = email.message_from_bytes((tmp_path / "d.eml").read_bytes(), policy=policy.default)
    assert msg["To"] == "owner@example.com"
    assert msg["Subject"].startswith(f"[logaudit] shop.example.com {DAY.isoformat()}: ")
    body = msg.get_body(("plain",))
    assert body is not None and "41" in body.get_content()


def test_digest_refuses_stdin() -> None:
    r = CliRunner().invoke(cli, ["digest", "-"], input="")
    assert r.exit_code == ExitCode.USAGE and "name files" in r.stderr


def test_digest_for_one_site_of_several(log: Path, tmp_path: Path) -> None:
    conf = tmp_path / "logaudit.toml"
    conf.write_text(
        '[mail]\nto = ["ops@example.com"]\n'
        f'[sites.shop]\nlogs = ["{log}"]\n[sites.shop.mail]\nto = ["owner@shop.example"]\n'
    )
    r = CliRunner().invoke(
        cli,
        ["digest", "--site", "shop", "--since", DAY.isoformat(), "--dry-run", "-o", "s.eml"],
        env={"LOGAUDIT_CONFIG": str(conf)},
    )
    assert r.exit_code == 0, r.stderr
    msg = email.message_from_bytes((tmp_path / "s.eml").read_bytes(), policy=policy.default)
    assert msg["To"] == "owner@shop.example"
    assert msg["Subject"].startswith(f"[logaudit] shop {DAY.isoformat()}: ")


def test_hostile_site_name_never_reaches_the_subject_raw(tmp_path: Path) -> None:
    """--site-host refuses it (QA22 #17: a host name only); a [sites."NAME"] table may still
    be named anything, and the Subject holds it escaped."""
    hostile = "\x1b[2Jevil.example\r\nBcc: x@y"
    log = tmp_path / "v.log"
    log.write_text("".join(line(DAY, i) for i in range(3)))
    r = CliRunner().invoke(
        cli,
        ["digest", str(log), "--since", DAY.isoformat(), "--site-host", hostile,
         "--mail-to", "a@x.example", "--dry-run", "-o", "h.eml"],
    )
    assert r.exit_code == 2 and "is not a host name" in r.stderr and "\x1b" not in r.stderr
    conf = tmp_path / "c.toml"
    conf.write_text(f"[sites.{json.dumps(hostile)}]\nlogs = [{json.dumps(str(log))}]\n")
    conf.chmod(0o600)
    r = CliRunner().invoke(
        cli,
        ["digest", "--site", hostile, "--since", DAY.isoformat(), "--mail-to", "a@x.example",
         "--dry-run", "-o", "h.eml"],
        env={"LOGAUDIT_CONFIG": str(conf)},
    )
    assert r.exit_code == 0, r.stderr
    raw = (tmp_path / "h.eml").read_bytes()
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and "\x1b" not in msg["Subject"]
    assert "evil.example" in msg["Subject"]  # the name is there, escaped
    assert b"\x1b" not in raw


def test_a_day_the_logs_only_half_cover_is_no_comparison(tmp_path: Path) -> None:
    """Logs starting at noon the day before: 'previous' would be half a day against a whole
    one, so it is left empty rather than shown as a fall."""
    before = [line(DAY - timedelta(days=1), i) for i in range(5)]
    before = [ln.replace(":10:", ":12:", 1).replace(":11:", ":13:", 1) for ln in before]
    log = tmp_path / "half.log"
    log.write_text("".join(before + day_lines(DAY, 10)))
    doc = digest_json(log)
    rows = {r["metric"]: r for r in doc["sections"][0]["rows"]}
    assert rows["requests"]["last"] == 11
    assert rows["requests"]["previous"] is None and rows["requests"]["change"] == ""
    assert "not cover" in doc["sections"][0]["note"]


def _orders(log: Path, orders: dict[date, list[int]]) -> None:
    """Each order: a new visitor's one page view of /order/complete?value=V (a visit that
    converts)."""
    lines = []
    for d, values in orders.items():
        for i, v in enumerate(values):
            ts = f"{d.strftime('%d/%b/%Y')}:15:{i:02d}:00 +0000"
            lines.append(f'198.51.100.{i + 1} - - [{ts}] "GET /order/complete?value={v} '
                         f'HTTP/1.1" 200 100 "-" "{UA}"\n')  # fmt: skip
    with log.open("a") as f:
        f.writelines(lines)


def test_conversion_headline_when_goals_are_given(log: Path) -> None:
    """Two orders on the day (30 + 20), one the day before (10), none a week before."""
    _orders(log, {DAY: [30, 20], DAY - timedelta(days=1): [10]})
    doc = digest_json(log, "--goal", "/order/complete")
    rows = {r["metric"]: r for r in doc["sections"][0]["rows"]}
    assert list(rows)[-3:] == ["conversions", "conversion_rate", "revenue"]
    c, rev, rate = rows["conversions"], rows["revenue"], rows["conversion_rate"]
    assert (c["last"], c["previous"], c["week_before"]) == (2, 1, 0)
    assert (c["change_pct"], c["week_change"]) == (100.0, "▲ new")
    assert (rev["last"], rev["previous"], rev["change_pct"]) == (50.0, 10.0, 400.0)
    visits = rows["visits"]
    assert rate["last"] == round(2 / visits["last"], 4)
    assert rate["previous"] == round(1 / visits["previous"], 4)
    # The per-day rows served the headline only: no section of their own.
    assert "source-periods" not in [s["name"] for s in doc["sections"]]
    # Without goals: no conversion rows.
    plain = {r["metric"] for r in digest_json(log)["sections"][0]["rows"]}
    assert not plain & {"conversions", "conversion_rate", "revenue"}


def test_conversion_headline_from_config_goals(log: Path, tmp_path: Path) -> None:
    _orders(log, {DAY: [30]})
    conf = tmp_path / "logaudit.toml"
    conf.write_text('[goals]\norder = "/order/complete"\n')
    r = CliRunner().invoke(
        cli,
        ["digest", str(log), "--since", DAY.isoformat()],
        env={"LOGAUDIT_CONFIG": str(conf), "COLUMNS": "120"},
    )
    assert r.exit_code == 0, r.output
    for words in ("Conversions", "Conversion rate", "Revenue", "30.00"):
        assert words in r.stdout, words


def test_conversion_headline_on_the_sample_weeks(sample_logs: Path) -> None:
    """sample_logs/weeks: the digest's conversions for a day are what `campaigns` counts for
    that day, and the rate is conversions over the digest's own visits."""
    weeks = sample_logs / "weeks"
    day = "2026-01-24"
    r = run("digest", weeks, "--since", day, "--goal", "/order/complete", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = {x["metric"]: x for x in json.loads(r.stdout)["sections"][0]["rows"]}
    for since, until, col in ((day, "2026-01-25", "last"), ("2026-01-23", day, "previous")):
        camp = run("campaigns", weeks, "--since", since, "--until", until, "--goal",
                   "/order/complete", "--format", "json")  # fmt: skip
        assert camp.exit_code == 0, camp.stderr
        conv = next(s for s in json.loads(camp.stdout)["sections"] if s["name"] == "conversions")
        assert rows["conversions"][col] == conv["headline"]["conversions"] > 0
        assert rows["conversion_rate"][col] == round(
            rows["conversions"][col] / rows["visits"][col], 4
        )


def test_rate_changes_from_the_counts_not_the_rounded_rates(sample_logs: Path) -> None:
    """QA16 finding 7: 8/1660 against 16/2037 4xx is -38.6%; the rates rounded to 4 digits
    (0.0048 against 0.0079) gave -39.2%. The rates are still shown rounded."""
    weeks = sample_logs / "weeks"
    r = run("digest", weeks, "--since", "2026-01-24", "--format", "json")
    assert r.exit_code == 0, r.stderr
    row = next(x for x in json.loads(r.stdout)["sections"][0]["rows"] if x["metric"] == "rate_4xx")
    rates = []
    for since, until in (("2026-01-24", "2026-01-25"), ("2026-01-23", "2026-01-24"),
                         ("2026-01-17", "2026-01-18")):  # fmt: skip
        s = run("summary", weeks, "--since", since, "--until", until, "--format", "json")
        o = json.loads(s.stdout)["overview"]
        rates.append(o["status_4xx"] / o["requests"])
    assert [row["last"], row["previous"], row["week_before"]] == [round(x, 4) for x in rates]
    assert row["change_pct"] == round((rates[0] - rates[1]) / rates[1] * 100, 1) == -38.6
    assert row["week_change_pct"] == round((rates[0] - rates[2]) / rates[2] * 100, 1) == -65.7


def test_a_since_with_an_offset_still_counts_whole_days_and_their_baseline(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The period widens to whole local days and the baseline starts 14 days earlier: the
    # instant (since_utc) used to cut both, losing the day's first hour and every baseline day.
    monkeypatch.setenv("TZ", "UTC")
    since, until = f"{DAY.isoformat()}T05:00:00+00:00", f"{DAY + timedelta(days=1)}T00:00:00Z"
    r = run("digest", log, "--since", since, "--until", until, "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = {x["metric"]: x for x in json.loads(r.stdout)["sections"][0]["rows"]}
    assert rows["requests"]["last"] == 41
    assert rows["requests"]["previous"] == 21
    assert rows["requests"]["week_before"] == 11


def _across_midnight(tmp_path: Path) -> Path:
    """A log of 15 lines the day before DAY, three visits from 23:50 that day to 00:10 on DAY,
    then 40 lines on DAY."""
    prev = DAY - timedelta(days=1)
    lines = day_lines(prev, 15)
    for n in range(3):  # visits from 23:50 the day before to 00:10 on the day
        for d, hm in ((prev, "23:50"), (DAY, "00:10")):
            ts = f"{d.strftime('%d/%b/%Y')}:{hm}:0{n} +0000"
            lines.append(f'10.9.9.{n + 1} - - [{ts}] "GET /x HTTP/1.1" 200 100 "-" "{UA}"\n')
    lines += day_lines(DAY, 40)
    p = tmp_path / "access.log"
    p.write_text("".join(lines))
    return p


def test_a_visit_begun_before_midnight_counts_once_overview_as_headline(tmp_path: Path) -> None:
    # QA18 #6: the overview counted visits cut at the day's first midnight (137) where the
    # headline and the subject count the visits starting on the day (135, as trends).
    p = _across_midnight(tmp_path)
    doc = digest_json(p)
    rows = {r["metric"]: r for r in doc["sections"][0]["rows"]}
    ov = doc["overview"]
    assert rows["visits"]["last"] == ov["visits"] == 41
    assert f": {ov['visits']} visits" in ov["verdict"]
    # The overview's other visit figures are those visits' too: every page view on the day
    # but the three that continue visits of the day before.
    assert ov["clicks"] == ov["page_views"] - 3
    summary = run("summary", p, "--since", DAY.isoformat(), "--until",
                  (DAY + timedelta(days=1)).isoformat(), "--format", "json")
    assert json.loads(summary.stdout)["overview"]["visits"] == 44  # summary's own rule


def test_the_sections_count_the_overviews_visits(tmp_path: Path) -> None:
    # Review of qafix18b #1: the overview took the visits starting on the day (41) where the
    # sections read the period run's, cut at its first midnight (44: three visits of the day
    # before counted again from 00:10).
    p = _across_midnight(tmp_path)
    doc = digest_json(p, "--section", "visits", "--section", "entry-pages", "--section",
                      "exit-pages", "--top", "0")
    ov = doc["overview"]
    assert ov["visits"] == 41
    got = {s["name"]: s for s in doc["sections"]}
    assert got["visits"]["headline"]["visits"] == ov["visits"]
    for name in ("entry-pages", "exit-pages"):
        assert sum(r["visits"] for r in got[name]["rows"]) == ov["visits"], name


def test_a_reversed_period_is_empty_as_summarys(log: Path) -> None:
    # --until before --since: summary reports no request (exit 8); the digest used to report
    # the --since day in full and exit 0 (QA20 #4).
    since, until = DAY.isoformat(), (DAY - timedelta(days=1)).isoformat()
    r = run("digest", log, "--since", since, "--until", until, "--format", "json")
    s = run("summary", log, "--since", since, "--until", until, "--format", "json")
    assert r.exit_code == s.exit_code == ExitCode.NO_DATA
    assert "no request in the chosen period" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["overview"]["requests"] == 0 == json.loads(s.stdout)["overview"]["requests"]
    assert doc["overview"]["period"] == f"{since} to {until} (empty period)"
    assert doc["overview"]["verdict"].endswith(": --until is not after --since (!)")
    rows = {x["metric"]: x for x in doc["sections"][0]["rows"]}
    assert rows["requests"]["last"] == 0 and rows["requests"]["previous"] is None
    # The same day's times in the wrong order: no day either.
    r = run("digest", log, "--since", f"{since}T10:00", "--until", f"{since}T09:00")
    assert r.exit_code == ExitCode.NO_DATA


def test_until_alone_is_the_day_before_it(log: Path) -> None:
    # It used to be ignored: the digest of yesterday (the clock's), whatever --until said.
    r = run("digest", log, "--until", (DAY + timedelta(days=1)).isoformat(), "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["overview"]["period"] == DAY.isoformat()
    assert doc["overview"]["requests"] == 41 == digest_json(log)["overview"]["requests"]


def test_since_alone_with_a_time_is_its_day(log: Path) -> None:
    # since + 24 h was rounded up to midnight: two days (DAY and the next, 7 more requests).
    r = run("digest", log, "--since", f"{DAY.isoformat()}T10:00", "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["overview"]["period"] == DAY.isoformat()
    assert doc["overview"]["requests"] == 41


@pytest.mark.parametrize(
    ("since", "until"),
    [("", ""), ("T10:00", "T09:00"), ("T10:00", "T10:00")],
    ids=["equal dates", "reversed same-day times", "equal times"],
)
def test_an_equal_period_is_named_empty_not_a_day_without_requests(
    log: Path, since: str, until: str
) -> None:
    # DAY has 41 requests. summary reads --since D --until D as an empty period (exit 8); the
    # digest did too but named it "D" and mailed "D: no requests (!)", a false outage alarm.
    a, b = f"{DAY.isoformat()}{since}", f"{DAY.isoformat()}{until}"
    s = run("summary", log, "--since", a, "--until", b, "--format", "json")
    r = run("digest", log, "--since", a, "--until", b, "--format", "json")
    assert r.exit_code == s.exit_code == ExitCode.NO_DATA
    doc = json.loads(r.stdout)
    assert doc["overview"]["requests"] == 0 == json.loads(s.stdout)["overview"]["requests"]
    day = DAY.isoformat()
    assert doc["overview"]["period"] == f"{day} to {day} (empty period)"
    verdict = doc["overview"]["verdict"]
    assert "no requests" not in verdict and "--until is not after --since" in verdict
    assert doc["sections"][0]["note"] == (
        f"{day} to {day} (empty period): no day (--until is not after --since)"
    )


@pytest.mark.parametrize(("since", "days"), [("7d", 7), ("2w", 14), ("12h", 1)])
def test_a_relative_since_alone_runs_to_now_as_summarys(
    log: Path, since: str, days: int
) -> None:
    # summary's --since 7d is the 7 days before now; the digest's was the one day 7 days ago
    # (a weekly 'digest --since 7d' mailed one day). Now: its whole days up to today.
    from datetime import UTC, datetime

    r = run("digest", log, "--since", since, "--tz", "UTC", "--format", "json")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    want = first.isoformat() if days == 1 else f"{first} to {today - timedelta(days=1)}"
    assert json.loads(r.stdout)["overview"]["period"] == want
    assert json.loads(r.stdout)["sections"][0]["headline"]["days"] == days
