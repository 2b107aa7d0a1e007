"""The config file, environment and options: where a file is found, precedence, list extension,
units, masking in `logaudit config`, and every error being exit 7 with one line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit.cli import cli
from logaudit.config import STATIC_EXTENSIONS, load
from logaudit.errors import ConfigError, ExitCode
from tests.loglines import isolate
from tests.loglines import write_text as write

LINE = '1.2.3.4 - - [10/Mar/2026:12:00:00 +0000] "GET /a.php HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n'


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.delenv("LOGAUDIT_CONFIG")
    monkeypatch.chdir(tmp_path)


def env(**kw: str) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(Path.cwd() / "xdg"), **kw}


def test_discovery_order(tmp_path: Path) -> None:
    legacy = write(tmp_path / "xdg" / "logaudit" / "config.toml", "top = 1\n")
    assert load(env=env()).top == 1 and load(env=env()).config_file == legacy
    xdg = write(tmp_path / "xdg" / "logaudit" / "logaudit.toml", "top = 2\n")
    assert load(env=env()).config_file == xdg
    write(tmp_path / "logaudit.toml", "top = 3\n")
    assert load(env=env()).top == 3
    named = write(tmp_path / "other.toml", "top = 4\n")
    assert load(env=env(LOGAUDIT_CONFIG=str(named))).top == 4
    explicit = write(tmp_path / "explicit.toml", "top = 5\n")
    s = load(env=env(LOGAUDIT_CONFIG=str(named)), config_file=explicit)
    assert s.top == 5 and s.origins["top"] == f"file {explicit}"


def test_precedence_option_over_env_over_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "logaudit.toml", 'top = 3\nbots = "exclude"\ntz = "UTC"\n')
    e = env(LOGAUDIT_TOP="7", LOGAUDIT_BOTS="include")
    s = load({"top": 9}, env=e)
    assert (s.top, s.bots, s.tz, s.strict) == (9, "include", "UTC", False)
    assert s.origins["top"] == "option"
    assert s.origins["bots"] == "env LOGAUDIT_BOTS"
    assert s.origins["tz"] == f"file {conf}"
    assert "strict" not in s.origins


def test_lists_extend_the_defaults_unless_they_say_replace(tmp_path: Path) -> None:
    conf = write(tmp_path / "logaudit.toml", 'static_extensions = ["php", "css"]\n')
    s = load(env=env())
    assert s.static_extensions == (*STATIC_EXTENSIONS, "php")
    conf.write_text('static_extensions.replace = ["css", "js"]\n')
    assert load(env=env()).static_extensions == ("css", "js")
    conf.write_text('[static_extensions]\nreplace = ["png"]\n')
    assert load(env=env()).static_extensions == ("png",)
    conf.write_text('[static_extensions]\nadd = ["png"]\n')
    with pytest.raises(ConfigError, match="replace"):
        load(env=env())
    e = env(LOGAUDIT_CONFIG=os.devnull, LOGAUDIT_STATIC_EXTENSIONS="php")
    assert load(env=e).static_extensions == (*STATIC_EXTENSIONS, "php")


def test_readme_example_config_no_longer_changes_page_views(tmp_path: Path) -> None:
    """The README's old example listed six extensions and so made /favicon.ico a page."""
    log = tmp_path / "a.log"
    log.write_text(
        LINE.replace("/a.php", "/favicon.ico") + LINE.replace("/a.php", "/") + LINE
    )
    write(tmp_path / "logaudit.toml", 'static_extensions = ["css", "js", "png"]\n')
    r = CliRunner().invoke(cli, ["summary", str(log), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["overview"]["page_views"] == 2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("45", 2700), ('"1800s"', 1800), ('"1h"', 3600), ('"30m"', 1800), ("2.5", 150)],
)
def test_visit_timeout_is_minutes_or_says_its_unit(
    tmp_path: Path, value: str, seconds: int
) -> None:
    write(tmp_path / "logaudit.toml", f"visit_timeout = {value}\n")
    assert load(env=env()).visit_timeout == seconds
    e = env(LOGAUDIT_CONFIG=os.devnull, LOGAUDIT_VISIT_TIMEOUT=value.strip('"'))
    assert load(env=e).visit_timeout == seconds
    assert load({"visit_timeout": value.strip('"')}, env=env()).visit_timeout == seconds


def test_visit_timeout_in_old_seconds_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "logaudit.toml", "visit_timeout = 1800\n")
    with pytest.raises(ConfigError, match="minutes"):
        load(env=env())


def run(*args: str | Path, **envs: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args], env=envs or None)
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("colour = true\n", "unknown setting 'colour'"),
        ('top = "10"\n', "expected a whole number"),
        ("site_hosts = \"a.example\"\n", "list of strings"),
        ("strict = 1\n", "true or false"),
        ('visit_timeout = "soon"\n', "visit_timeout"),
        ("geoip_dir = 3\n", "folder path"),
        ('bots = "some"\n', "bots must be one of"),
        ("top = -1\n", "top must be 0"),
        ("[mail]\nhost = \"x\"\n", "unknown setting 'mail.host'"),
        ("[mail]\nsmtp_port = \"25\"\n", "mail.smtp_port"),
        ('[mail]\ntls = "maybe"\n', "tls must be one of"),
        ("mail = 3\n", "[mail]"),
        ("top = \n", "not valid TOML"),
        ('sections = ["nope"]\n', "unknown section 'nope'"),
        ('log_format = "nope"\n', "log-format 'nope'"),
        ('[mail]\nto = ["a@b.example, c@d.example"]\n', "not a mail address"),
        ('[mail]\nfrom = "me"\n', "not a mail address"),
        ('[mail]\nsmtp_host = "mx.example"\ntls = "none"\nuser = "u"\n', "in clear"),
        # Read one character a host, so lemmy.world stayed a referral (qa15 item 6).
        ('[sources.social_networks]\nLemmy = "lemmy.world"\n', "give a list of hosts"),
        ('[sources.search_engines]\nCorp = { hosts = "find.corp" }\n', "give a list of hosts"),
        ("jobs = 1000\n", "jobs must be 1-64"),
        ("jobs = -1\n", "jobs must be 1-64"),
        ('[privacy_rules.phone]\nenabled = "no"\n', "give true or false"),
        ("[privacy_rules.phone]\n", "a built-in rule is switched off with enabled = false"),
    ],
)
def test_every_config_error_is_exit_7_and_one_line(
    tmp_path: Path, text: str, mentions: str
) -> None:
    conf = write(tmp_path / "logaudit.toml", text)
    log = tmp_path / "a.log"
    log.write_text(LINE)
    code, out, err = run("summary", log)
    assert code == ExitCode.CONFIG, err
    assert mentions in err and str(conf.name) in err or mentions in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('state = ""\n', "state: the folder name is empty"),
        ('geoip_dir = ""\n', "geoip_dir: the name is empty"),
        ('secret_file = ""\n', "secret_file: the file name is empty"),
        ('logs = ["a.log", ""]\n', "logs: a log name is empty"),
        ('[mail]\nspool_dir = ""\n', "mail.spool_dir: the folder name is empty"),
        ('[mail]\nca_file = ""\n', "mail.ca_file: the file name is empty"),
        ('[sites.shop]\nstate = ""\n', "sites.shop.state: the folder name is empty"),
        (
            '[sites.shop.mail]\nspool-dir = ""\n',
            "sites.shop.mail.spool-dir: the folder name is empty",
        ),
    ],
)
def test_an_empty_path_in_the_file_is_exit_7_naming_the_key(
    tmp_path: Path, text: str, said: str
) -> None:
    """state = "" was read as ".": a history store made in the current folder (geoip_dir = ""
    looked there, logs = [""] read it, mail.ca_file = "" failed later as a folder); --state ''
    on the command line is refused (exit 2). From the file: one line naming the file and the
    key, exit 7 (a bad setting), and nothing written."""
    conf = write(tmp_path / "logaudit.toml", text)
    log = tmp_path / "a.log"
    log.write_text(LINE)
    before = set(tmp_path.iterdir())
    code, out, err = run("summary", log, "--format", "json")
    assert code == ExitCode.CONFIG, err
    assert err == f"logaudit: error: file {conf}: {said}\n"
    assert out == "" and set(tmp_path.iterdir()) == before


def test_an_empty_variable_is_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LOGAUDIT_STATE= (an unset variable in a crontab) made a store in the current folder;
    then it was exit 7 while LOGAUDIT_CONFIG= was unset. Every LOGAUDIT_* variable empty is
    now as unset: the run without it, nothing written here."""
    log = tmp_path / "a.log"
    log.write_text(LINE)
    before = set(tmp_path.iterdir())
    code, plain, err = run("summary", log, "--format", "json")
    assert code == 0, err
    monkeypatch.setenv("LOGAUDIT_STATE", "")
    code, out, err = run("summary", log, "--format", "json")
    assert code == 0, err
    assert _figures(out) == _figures(plain) and set(tmp_path.iterdir()) == before


def _figures(text: str) -> dict[str, object]:
    report = json.loads(text)
    report.pop("generated")
    return report


def _variables() -> list[str]:
    from logaudit.config import _FILE_KEYS, MAIL_ENV, TUNING_ENV

    keys = ["LOGAUDIT_" + k.upper() for k in _FILE_KEYS]
    return [*keys, *MAIL_ENV.values(), *TUNING_ENV, "LOGAUDIT_CONFIG"]


@pytest.mark.parametrize("name", _variables())
@pytest.mark.parametrize("value", ["", "  "])
def test_every_variable_empty_is_as_unset(tmp_path: Path, name: str, value: str) -> None:
    """LOGAUDIT_STATE=, _TOP=, _BLOCK_MB= ... were exit 7, LOGAUDIT_STRICT= and _CACHE= set
    false, LOGAUDIT_SITE_HOSTS= emptied the file's list, LOGAUDIT_CONFIG= and the mail ones
    were unset: the settings and where they came from are those without the variable."""
    write(tmp_path / "logaudit.toml", 'site_hosts = ["a.example"]\nstrict = true\n')
    plain = load(env=env())  # the file found in the current folder
    with_it = load(env=env(**{name: value}))
    assert plain.site_hosts == ("a.example",) and plain.strict
    assert with_it == plain and with_it.origins == plain.origins


@pytest.mark.parametrize("where", ["file", "env"])
def test_jobs_0_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """jobs = 0 is Settings' own default (one process): a config or crontab carrying it ran
    before the range check and must still run."""
    if where == "file":
        write(tmp_path / "logaudit.toml", "jobs = 0\n")
    else:
        monkeypatch.setenv("LOGAUDIT_JOBS", "0")
    log = tmp_path / "a.log"
    log.write_text(LINE)
    code, out, err = run("summary", log)
    assert code == ExitCode.OK, err


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("LOGAUDIT_JOBS", "500", "env LOGAUDIT_JOBS: jobs must be 1-64"),
        ("LOGAUDIT_SPILL_MB", "abc", 'env LOGAUDIT_SPILL_MB: "abc" is not a size in MB'),
        ("LOGAUDIT_SPILL_MB", "-1", 'env LOGAUDIT_SPILL_MB: "-1" is not a size in MB'),
        ("LOGAUDIT_BLOCK_MB", "0", 'env LOGAUDIT_BLOCK_MB: "0" is not a size in MB'),
    ],
)
def test_a_wrong_environment_value_is_exit_7_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, mentions: str
) -> None:
    log = tmp_path / "a.log"
    log.write_text(LINE)
    monkeypatch.setenv(name, value)
    code, out, err = run("summary", log)
    assert code == ExitCode.CONFIG and mentions in err, err
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_good_sources_tables_and_a_switched_off_rule_load(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "c.toml",
        '[sources.social_networks]\nLemmy = ["lemmy.world"]\n'
        '[sources.search_engines]\nCorp = { hosts = ["find.corp"], params = ["q"] }\n'
        "[privacy_rules.phone]\nenabled = false\n",
    )
    s = load(config_file=conf, env=env(LOGAUDIT_SPILL_MB="0", LOGAUDIT_JOBS="2"))
    assert s.sources["social_networks"] == {"Lemmy": ["lemmy.world"]} and s.jobs == 2


def test_missing_named_config_is_exit_7(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(LINE)
    code, _, err = run("summary", log, LOGAUDIT_CONFIG=str(tmp_path / "nope.toml"))
    assert code == ExitCode.CONFIG and "LOGAUDIT_CONFIG" in err and "nope.toml" in err
    code, _, err = run("summary", log, "--config", tmp_path / "nope.toml")
    assert code == ExitCode.CONFIG and "--config" in err
    code, _, err = run("config", "--config", tmp_path / "nope.toml")
    assert code == ExitCode.CONFIG


def test_password_readable_by_others_is_refused(tmp_path: Path) -> None:
    text = '[mail]\nsmtp_host = "smtp.example"\nuser = "u"\npassword = "hunter2"\n'
    conf = write(tmp_path / "logaudit.toml", text, 0o644)
    code, out, err = run("config")
    assert code == ExitCode.CONFIG and "chmod 600" in err and "hunter2" not in err + out
    conf.chmod(0o640)
    assert run("config")[0] == ExitCode.CONFIG
    conf.chmod(0o600)
    assert run("config")[0] == 0
    # Without a password the file may be readable: it holds nothing secret.
    conf.write_text('[mail]\nsmtp_host = "smtp.example"\n')
    conf.chmod(0o644)
    assert run("config")[0] == 0


@pytest.mark.parametrize("then", ["removed", "replaced"])
def test_a_password_file_is_judged_as_read_not_by_its_path_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    """The 0644 file read holds the password; its path, stat'ed again after the read, named
    another file (0600: accepted) or none (the failed stat passed the check)."""
    import tomllib

    text = '[mail]\nsmtp_host = "smtp.example"\npassword = "hunter2"\n'
    conf = write(tmp_path / "logaudit.toml", text, 0o644)
    loads = tomllib.loads

    def swapped(s: str, **kw: object) -> dict[str, object]:
        conf.unlink()
        if then == "replaced":
            write(conf, "", 0o600)
        return loads(s, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(tomllib, "loads", swapped)
    code, out, err = run("config")
    assert code == ExitCode.CONFIG and "others can read it" in err and "hunter2" not in err + out


def test_config_command_shows_values_origins_and_masks_secrets(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "logaudit.toml",
        'site_hosts = ["shop.example.com"]\ngoals = ["/thanks"]\nvisit_timeout = "45m"\n'
        '[mail]\nsmtp_host = "smtp.example"\npassword = "hunter2"\nfrom = "me@example.com"\n'
        'to = ["ops@example.com"]\n',
    )
    code, out, err = run(
        "config", LOGAUDIT_TOP="25", LOGAUDIT_SMTP_PASSWORD="s3cret", LOGAUDIT_SMTP_PORT="2525"
    )
    assert code == 0, err
    assert f"config file: {conf}" in out
    assert "hunter2" not in out and "s3cret" not in out and "********" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines()[1:]}
    assert "shop.example.com" in lines["site_hosts"] and f"[file {conf}]" in lines["site_hosts"]
    assert "/thanks" in lines["goals"]
    assert "45m" in lines["visit_timeout"]
    assert "25" in lines["top"] and "[env LOGAUDIT_TOP]" in lines["top"]
    assert "[env LOGAUDIT_SMTP_PASSWORD]" in lines["mail.password"]
    assert "2525" in lines["mail.smtp_port"]
    assert "me@example.com" in lines["mail.from"]  # the name the file writes, not "sender"
    assert "[default]" in lines["bots"]
    code, out, _ = run("config", "--json", LOGAUDIT_SMTP_PASSWORD="s3cret")
    doc = json.loads(out)
    assert doc["settings"]["mail.to"] == {"value": "ops@example.com", "origin": f"file {conf}"}
    assert "s3cret" not in out


def test_mail_environment_variables(tmp_path: Path) -> None:
    s = load(
        env=env(
            LOGAUDIT_CONFIG=os.devnull,
            LOGAUDIT_SMTP_HOST="mx.example",
            LOGAUDIT_SMTP_PORT="465",
            LOGAUDIT_SMTP_TLS="ssl",
            LOGAUDIT_SMTP_USER="u",
            LOGAUDIT_SMTP_PASSWORD="p",
            LOGAUDIT_MAIL_FROM="logs@example.com",
        )
    )
    m = s.mail
    assert (m.smtp_host, m.port(), m.tls, m.user, m.password, m.sender) == (
        "mx.example", 465, "ssl", "u", "p", "logs@example.com"
    )
    with pytest.raises(ConfigError, match="LOGAUDIT_SMTP_PORT"):
        load(env=env(LOGAUDIT_CONFIG=os.devnull, LOGAUDIT_SMTP_PORT="smtp"))
    with pytest.raises(ConfigError, match="tls"):
        load(env=env(LOGAUDIT_CONFIG=os.devnull, LOGAUDIT_SMTP_TLS="yes"))


def test_logs_from_the_config_when_none_named(tmp_path: Path) -> None:
    log = tmp_path / "site.log"
    log.write_text(LINE * 3)
    write(tmp_path / "logaudit.toml", f'logs = ["{log}"]\n')
    code, out, err = run("summary", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["overview"]["requests"] == 3


def test_readme_and_cron_doc_example_configs_load(tmp_path: Path) -> None:
    """The examples users copy must load as they are written."""
    from tests.conftest import REPO

    for doc in ("README.md", "docs/cron.md"):
        text = (REPO / doc).read_text()
        blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
        assert blocks, doc
        for i, block in enumerate(blocks):
            conf = write(tmp_path / f"{i}.toml", block)
            site = re.search(r"^\[sites\.(\w+)\]", block, re.M)
            s = load(env=env(), config_file=conf, site=site.group(1) if site else None)
            if block.startswith("[mail]\npassword"):  # cron.md's root-only file, password only
                assert s.mail.password == "..."
                continue
            assert s.site_hosts == ("shop.example.com",)
            if "[mail]" in block:
                assert s.mail.smtp_host == "smtp.example.com" and s.mail.tls == "starttls"


SITES = """
site_hosts = ["www.example.com"]
top = 7
[mail]
smtp_host = "smtp.example.com"
to = ["ops@example.com"]

[sites.shop]
logs = ["shop.log"]
site_hosts = ["shop.example.com"]
[sites.shop.mail]
to = ["owner@shop.example"]

[sites.blog]
static_extensions = ["php"]
"""


def test_site_tables_lay_over_the_top_level(tmp_path: Path) -> None:
    conf = write(tmp_path / "logaudit.toml", SITES)
    top = load(env=env())
    assert top.site_hosts == ("www.example.com",) and top.mail.to == ("ops@example.com",)
    shop = load(env=env(), site="shop")
    assert shop.site == "shop" and shop.logs == ("shop.log",)
    assert shop.site_hosts == ("shop.example.com",) and shop.top == 7
    assert shop.mail.to == ("owner@shop.example",)
    assert shop.mail.smtp_host == "smtp.example.com"
    assert shop.origins["site_hosts"] == f"file {conf} [sites.shop]"
    assert shop.origins["top"] == f"file {conf}"
    blog = load(env=env(), site="blog")
    assert blog.static_extensions == (*STATIC_EXTENSIONS, "php")
    with pytest.raises(ConfigError, match=r"sites: blog, shop"):
        load(env=env(), site="nope")
    code, out, _ = run("config", "--site", "shop")
    assert code == 0 and "site: [sites.shop]" in out and "owner@shop.example" in out
    assert run("config", "--site", "nope")[0] == ExitCode.CONFIG


def test_a_site_without_any_config_file_says_so(tmp_path: Path) -> None:
    """Not "no [sites.x] in no config file (sites: none)"."""
    with pytest.raises(ConfigError, match=r"no config file was found .*--config FILE"):
        load(env=env(), site="shop")


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("[sites.shop]\ncolour = 1\n", "'sites.shop.colour'"),
        ("sites = 3\n", "[sites.NAME]"),
        ("[sites.shop.mail]\nhost = 'x'\n", "'sites.shop.mail.host'"),
        ("[sites.shop]\ntop = 'x'\n", "whole number"),
    ],
)
def test_site_table_errors(tmp_path: Path, text: str, mentions: str) -> None:
    write(tmp_path / "logaudit.toml", text)
    with pytest.raises(ConfigError, match=re.escape(mentions)):
        load(env=env(), site="shop")


def test_a_site_password_also_needs_a_private_file(tmp_path: Path) -> None:
    write(tmp_path / "logaudit.toml", "[sites.shop.mail]\npassword = 'x'\n", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load(env=env())


def test_per_setting_conversions_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config._convert is where a setting needing more than its type (an octal mode, a
    date) is converted, from the file and the environment alike; its ValueErrors are exit 7."""
    from logaudit import config

    def convert(name: str, value: object) -> object:
        if name == "top":
            return int(str(value).removesuffix(" rows"))
        return NotImplemented

    monkeypatch.setattr(config, "_convert", convert)
    write(tmp_path / "logaudit.toml", 'top = "12 rows"\n')
    assert load(env=env()).top == 12
    assert load(env=env(LOGAUDIT_TOP="13 rows")).top == 13
    with pytest.raises(ConfigError, match="LOGAUDIT_TOP"):
        load(env=env(LOGAUDIT_TOP="many"))


def test_config_shows_the_jobs_default_help_names(tmp_path: Path) -> None:
    """QA 17 #8: `logaudit config` said `jobs 0 [default]` where --help says the default is 1."""
    code, out, err = run("config", "--json", LOGAUDIT_CONFIG=os.devnull)
    assert code == ExitCode.OK, err
    assert json.loads(out)["settings"]["jobs"] == {"value": "1", "origin": "default"}
    help_text = " ".join(run("summary", "--help")[1].split())
    assert "(default 1;" in help_text


# ---- QA18: values named where they came from, as written; booleans; durations ----------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('tz = "Mars/Olympus"\n', 'logaudit.toml: tz = "Mars/Olympus": unknown time zone'),
        ("top = true\n", "logaudit.toml: top = true: expected a whole number"),
        ("top = 1e400\n", "logaudit.toml: top = 1e400: expected a whole number"),
        ('window = "7x"\n', 'logaudit.toml: window = "7x": use 30d'),
        ('window = "999999999w"\n', 'logaudit.toml: window = "999999999w": more than 36500d'),
        ('strict = "maybe"\n', 'logaudit.toml: strict = "maybe": expected true or false'),
        ("mask_bytes = inf\n", "logaudit.toml: mask_bytes = inf is not a valid value"),
        # A hundred years at most, as every duration: 400 nines read as inf, OverflowError
        (f'visit_timeout = "{"9" * 400}h"\n', "visit_timeout = \"999"),
        ("[mail]\ntimeout = nan\n", "logaudit.toml: mail.timeout = nan must be"),
        ("[mail]\ntimeout = inf\n", "logaudit.toml: mail.timeout = inf must be"),
        ("[mail]\ntimeout = -1.5\n", "logaudit.toml: mail.timeout = -1.5 must be"),
        ("[mail]\nretries = -1\n", "logaudit.toml: mail.retries = -1 must be"),
        ('trusted_proxies = ["x"]\n', 'logaudit.toml: "x" is not a network'),
        ("top = true\n", "logaudit.toml: top = true"),
    ],
)
def test_a_bad_file_value_names_the_file_and_key_as_written(
    tmp_path: Path, text: str, said: str
) -> None:
    write(tmp_path / "logaudit.toml", text)
    for args in (("config",), ("summary", write(tmp_path / "a.log", LINE))):
        code, out, err = run(*args)
        assert code == ExitCode.CONFIG, err
        assert said in err and "--tz" not in err, err
        assert len(err.strip().splitlines()) == 1 and out == ""


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("LOGAUDIT_STRICT", "maybe", 'LOGAUDIT_STRICT: "maybe" is not a yes or no'),
        ("LOGAUDIT_CACHE", "nope", 'LOGAUDIT_CACHE: "nope" is not a yes or no'),
        ("LOGAUDIT_TZ", "Bad/Zone", 'env LOGAUDIT_TZ: tz = "Bad/Zone": unknown time zone'),
        ("LOGAUDIT_WINDOW", "999999999w", 'LOGAUDIT_WINDOW: window = "999999999w": more than'),
        ("LOGAUDIT_VISIT_TIMEOUT", "9" * 400 + "h", "env LOGAUDIT_VISIT_TIMEOUT: visit_timeout"),
        # Review of mend18b #5: the variable's message said no reason where the file's did.
        ("LOGAUDIT_VISIT_TIMEOUT", "99999999h", "not a valid value (more than 36500d"),
        ("LOGAUDIT_STRICT", "maybe", 'env LOGAUDIT_STRICT: "maybe"'),
    ],
)
def test_a_bad_variable_is_exit_7_naming_it(name: str, value: str, said: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(said)):
        load(env=env(**{name: value}))


@pytest.mark.parametrize(
    ("value", "strict"), [("1", True), ("On", True), ("no", False), ("0", False)]
)
def test_a_boolean_variable_reads_its_words(value: str, strict: bool) -> None:
    assert load(env=env(LOGAUDIT_STRICT=value)).strict is strict


def test_config_shows_values_as_written(tmp_path: Path) -> None:
    write(tmp_path / "logaudit.toml", 'mode = "0640"\nwindow = "7d"\n')
    code, out, _ = run("config", "--json")
    settings = json.loads(out)["settings"]
    assert code == 0
    assert settings["mode"]["value"] == "0640" and settings["window"]["value"] == "7d"
    write(tmp_path / "logaudit.toml", "")
    settings = json.loads(run("config", "--json")[1])["settings"]
    assert settings["mode"]["value"] == "0600" and settings["window"]["value"] == "30d"


def test_config_shows_booleans_and_visit_timeout_as_written(tmp_path: Path) -> None:
    write(tmp_path / "logaudit.toml", 'strict = true\nvisit_timeout = "90s"\n')
    settings = json.loads(run("config", "--json")[1])["settings"]
    assert settings["strict"]["value"] == "true" and settings["visit_timeout"]["value"] == "90s"
    write(tmp_path / "logaudit.toml", "")
    settings = json.loads(run("config", "--json")[1])["settings"]
    assert settings["strict"]["value"] == "false" and settings["visit_timeout"]["value"] == "30m"


def test_a_huge_visit_timeout_option_is_usage_not_a_traceback(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", LINE)
    code, out, err = run("summary", log, "--visit-timeout", "9" * 400 + "h")
    assert code == ExitCode.USAGE and "more than 36500d" in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("text", "timeout"), [("1_000.5", 1000.5), ("1e3", 1000.0), ("2.5", 2.5), ("30", 30.0)]
)
def test_toml_floats_still_read_the_same(tmp_path: Path, text: str, timeout: float) -> None:
    write(tmp_path / "logaudit.toml", f"[mail]\ntimeout = {text}\n")
    got = load(env=env()).mail.timeout
    assert got == timeout and type(got) is float
