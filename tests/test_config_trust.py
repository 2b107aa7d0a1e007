"""Config files as a policy and a trust boundary (QA22 #1, #4, #11, #15): a config file another
user owns or may write is refused (exit 7), the system file is read under the user's and its
``anonymize`` is a floor, ``LOGAUDIT_STATE`` makes one folder, not a path from ``/``, and
``logaudit config`` says values as the file writes them."""

from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

import pytest
from click.testing import CliRunner

from logaudit import config
from logaudit.cli import cli
from logaudit.config import load
from logaudit.errors import ConfigError, ExitCode, LogauditError
from tests.loglines import isolate
from tests.loglines import write_text as write

LINE = '203.0.113.54 - - [10/Mar/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n'
NOBODY = pwd.getpwnam("nobody").pw_uid


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)  # SYSTEM_CONFIG: tmp_path/etc/logaudit.toml
    monkeypatch.delenv("LOGAUDIT_CONFIG")
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    monkeypatch.chdir(work)


def run(*args: str | Path, **envs: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args], env=envs or None)
    return r.exit_code, r.stdout, r.stderr


EVIL = '[mail]\nvia = "sendmail"\nsendmail = "/tmp/evil.sh"\nto = ["a@evil.example"]\n'


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_config_file_of_another_user_is_refused(tmp_path: Path) -> None:
    conf = write(Path.cwd() / "logaudit.toml", EVIL)
    os.chown(conf, NOBODY, -1)
    code, out, err = run("config")
    assert code == ExitCode.CONFIG and out == ""
    assert err.count("\n") == 1 and str(conf) in err and "belongs to nobody" in err
    # Named by --config or LOGAUDIT_CONFIG, or found in ~/.config: refused the same.
    assert run("config", "--config", conf)[0] == ExitCode.CONFIG
    assert run("config", LOGAUDIT_CONFIG=str(conf))[0] == ExitCode.CONFIG
    os.chown(conf, 0, -1)
    assert run("config")[0] == 0


def test_a_config_file_others_may_write_is_refused(tmp_path: Path) -> None:
    conf = write(Path.cwd() / "logaudit.toml", EVIL, 0o666)
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and "others may write the file" in err and "0666" in err
    conf.chmod(0o644)  # readable is fine: no password in it
    assert run("config")[0] == 0
    xdg = write(tmp_path / "xdg" / "logaudit" / "logaudit.toml", "top = 3\n", 0o646)
    conf.unlink()
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and str(xdg) in err
    assert run("config", LOGAUDIT_CONFIG=os.devnull)[0] == 0  # /dev/null (0666): no file


def other_gid() -> int:
    """A group that is not this user's own: any other in the group database (Debian's
    nogroup is not Fedora's), else a number no group has (not a private group either)."""
    mine = pwd.getpwuid(os.geteuid()).pw_gid
    return next((g.gr_gid for g in grp.getgrall() if g.gr_gid != mine), 4242)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another group needs root")
def test_a_config_file_its_group_may_write_is_refused_unless_the_owners_own() -> None:
    conf = write(Path.cwd() / "logaudit.toml", EVIL, 0o620)
    os.chown(conf, -1, other_gid())  # the group alone is enough, unless it is the owner's own
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and "(mode 0620)" in err
    os.chown(conf, -1, pwd.getpwuid(os.geteuid()).pw_gid)  # root:root, a private group (umask 002)
    assert run("config")[0] == 0


def test_the_current_folder_must_be_safe_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # /tmp-like: anyone may put a logaudit.toml there
    write(shared / "logaudit.toml", "top = 3\n")  # even a file of ours: who put it there?
    monkeypatch.chdir(shared)
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and f"others may write the folder {shared}" in err
    log = write(tmp_path / "a.log", LINE)
    assert run("summary", log)[0] == ExitCode.CONFIG  # every command, not only `config`
    shared.chmod(0o755)
    assert run("config")[0] == 0


def test_the_system_file_is_read_under_the_users(tmp_path: Path) -> None:
    system = write(config.SYSTEM_CONFIG, 'anonymize = "mask"\ntop = 5\nbots = "exclude"\n', 0o644)
    user = write(Path.cwd() / "logaudit.toml", "top = 3\n")
    s = load(env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert (s.top, s.bots, s.anonymize) == (3, "exclude", "mask")
    assert s.origins["top"] == f"file {user}" and s.origins["bots"] == f"file {system}"
    assert s.config_files == (system, user) and s.config_file == user
    code, out, _ = run("config")
    assert code == 0
    assert out.splitlines()[:2] == [
        f"config file: {system} (system: its anonymize is a floor)",
        f"config file: {user}",
    ]
    # --config and LOGAUDIT_CONFIG name the user's file: the system one is still read.
    other = write(tmp_path / "other.toml", "top = 4\n")
    s = load(env={"LOGAUDIT_CONFIG": str(other)})
    assert (s.top, s.anonymize, s.config_files) == (4, "mask", (system, other))
    s = load(config_file=system, env={})  # itself as --config: read once
    assert s.config_files == (system,)


def test_a_system_file_with_a_password_says_to_keep_it_out(tmp_path: Path) -> None:
    """Every user reads the system file: "chmod 600" would stop every other user's run."""
    write(config.SYSTEM_CONFIG, '[mail]\npassword = "s3cret"\n', 0o644)
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and err.count("\n") == 1
    assert "LOGAUDIT_SMTP_PASSWORD" in err and "--config" in err and "chmod 600" not in err


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root")
@pytest.mark.parametrize("locked", ["file", "folder"])
def test_a_system_file_users_cannot_read_fails_closed_saying_how_to_mend_it(locked: str) -> None:
    """A policy is not skipped when unreadable (exit 7), but the one line says how to mend it:
    docs/cron.md's chmod 600 system file stopped every other user's run with no hint."""
    import shutil
    import tempfile
    import tomllib  # noqa: F401 - imported as root: nobody may not read root's Python

    top = Path(tempfile.mkdtemp(prefix="logaudit-policy-"))  # tmp_path: root's 0700 folder
    try:
        top.chmod(0o755)
        system = write(top / "etc" / "logaudit.toml", 'anonymize = "mask"\n', 0o644)
        system.parent.chmod(0o755)
        (system if locked == "file" else system.parent).chmod(0o600 if locked == "file" else 0o700)
        config.SYSTEM_CONFIG = system  # undone by isolate's monkeypatch
        os.seteuid(NOBODY)  # files are opened as nobody; the process stays root's
        try:
            with pytest.raises(ConfigError) as e:
                load(env={"LOGAUDIT_CONFIG": os.devnull})
        finally:
            os.seteuid(0)
        said = str(e.value)
        assert "\n" not in said and str(system) in said
        assert "cannot read (Permission denied)" in said
        assert "readable (0644" in said and "LOGAUDIT_SMTP_PASSWORD" in said
    finally:
        shutil.rmtree(top)


@pytest.mark.parametrize(
    ("how", "env", "said"),
    [
        ("file", {}, "anonymize = \"off\" not taken"),
        ("env", {"LOGAUDIT_ANONYMIZE": "off"}, "env LOGAUDIT_ANONYMIZE: anonymize = \"off\""),
        ("env", {"LOGAUDIT_ANONYMIZE": "0"}, "env LOGAUDIT_ANONYMIZE"),
    ],
)
def test_the_system_files_anonymize_cannot_be_lowered(
    tmp_path: Path, how: str, env: dict[str, str], said: str
) -> None:
    write(config.SYSTEM_CONFIG, 'anonymize = "mask"\n', 0o644)
    if how == "file":
        write(Path.cwd() / "logaudit.toml", "anonymize = false\ntop = 3\n")
    log = write(tmp_path / "a.log", LINE)
    code, out, err = run("summary", log, "--section", "hosts", "--format", "json", **env)
    assert code == 0, err
    assert "203.0.113.54" not in out and "203.0.113.0" in out
    assert err.count(said) == 1 and str(config.SYSTEM_CONFIG) in err
    code, out, _ = run("config", **env)
    line = next(ln for ln in out.splitlines() if ln.startswith("anonymize "))
    assert "mask" in line and "(policy)" in line
    # A mode is the reader's choice (both keep addresses out); only "off" is lowering.
    assert load(env={"LOGAUDIT_ANONYMIZE": "hash"}).anonymize == "hash"


def test_the_system_files_mask_bytes_is_a_floor_too(tmp_path: Path) -> None:
    write(config.SYSTEM_CONFIG, 'anonymize = "mask"\nmask_bytes = 2\n', 0o644)
    s = load({"mask_bytes": 1}, env={})
    assert s.mask_bytes == 2 and s.notes and s.notes[0].startswith("--mask-bytes: mask_bytes = 1")
    assert load({"mask_bytes": 3}, env={}).mask_bytes == 3  # more is fine, said nothing
    assert load({"mask_bytes": 3}, env={}).notes == ()


def test_without_a_system_file_a_user_may_turn_it_off(tmp_path: Path) -> None:
    write(Path.cwd() / "logaudit.toml", 'anonymize = "mask"\n')
    s = load(env={"LOGAUDIT_ANONYMIZE": "off"})
    assert s.anonymize == "" and s.notes == ()


def test_state_from_the_environment_makes_one_folder_not_a_path(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", LINE)
    far = tmp_path / "nonexistent" / "x"
    code, _, err = run("summary", log, LOGAUDIT_STATE=str(far))
    assert code == ExitCode.OUTPUT and err.count("\n") == 1
    assert f"no folder {far.parent}" in err
    assert not far.parent.exists()
    near = tmp_path / "store"
    assert run("summary", log, LOGAUDIT_STATE=str(near))[0] == 0
    assert near.is_dir() and (near.stat().st_mode & 0o777) == 0o700
    code, _, err = run("state", "rebuild", log, "--state", far)
    assert code == ExitCode.OUTPUT and not far.parent.exists()


def test_config_shows_anonymize_off_and_mail_from(tmp_path: Path) -> None:
    write(Path.cwd() / "logaudit.toml", 'anonymize = false\n[mail]\nfrom = "me@example.com"\n')
    code, out, _ = run("config")
    rows = {ln.split()[0]: ln.split()[1] for ln in out.splitlines()[1:]}
    assert rows["anonymize"] == "off" and rows["mail.from"] == "me@example.com"
    assert "mail.sender" not in out
    doc = json.loads(run("config", "--json")[1])
    assert doc["settings"]["mail.from"]["value"] == "me@example.com"


@pytest.mark.parametrize(
    ("env", "text"),
    [
        ({"LOGAUDIT_ANONYMIZE": "rot13"}, "use mask, hash or off"),
        ({"LOGAUDIT_MASK_BYTES": "4"}, "use 1, 2 or 3"),
    ],
)
def test_invalid_anonymize_values_list_the_valid_ones(env: dict[str, str], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        load(env=env)
    write(Path.cwd() / "logaudit.toml", "mask_bytes = 4\n")
    with pytest.raises(ConfigError, match=r"mask_bytes = 4 is not a valid value \(use 1, 2 or 3"):
        load(env={})


def test_a_formats_name_of_a_built_in_format_is_refused(tmp_path: Path) -> None:
    """[formats] combined = '...' was silently ignored: the built-in combined was read."""
    write(Path.cwd() / "logaudit.toml", "[formats]\ncombined = '$remote_addr $status'\n")
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and "combined is a built-in format's name" in err
    # GoAccess's other name of a built-in format (elb), when used.
    write(Path.cwd() / "logaudit.toml", "[formats]\nAWSELB = '$remote_addr $status'\n")
    log = write(tmp_path / "a.log", LINE)
    code, _, err = run("summary", log, "--log-format", "AWSELB")
    assert code != 0 and "both a built-in format's name and one of the config's" in err
    write(Path.cwd() / "logaudit.toml", "[formats]\nawselb = '$remote_addr $status'\n")
    code, _, err = run("summary", log, "--log-format", "AWSELB")  # in another case too
    assert code != 0 and "both a built-in format's name and one of the config's" in err
    write(Path.cwd() / "logaudit.toml", "[formats]\nmine = '$remote_addr $status'\n")
    assert run("config")[0] == 0


@pytest.mark.parametrize("host", ["a\r\nb.example", "shop example.com", "https://shop.example/",
                                  "shop.example.com\n"])
def test_a_site_host_must_be_a_host_name(tmp_path: Path, host: str) -> None:
    log = write(tmp_path / "a.log", LINE)
    code, _, err = run("summary", log, "--site-host", host)
    assert code == ExitCode.USAGE and "--site-host: " in err and "is not a host name" in err
    assert err.count("\n") == 1 and "\r" not in err
    write(Path.cwd() / "logaudit.toml", f"site_hosts = {json.dumps([host])}\n")
    with pytest.raises(ConfigError, match="logaudit.toml: .* is not a host name"):
        load(env={})
    with pytest.raises(ConfigError, match="env LOGAUDIT_SITE_HOSTS: .* is not a host name"):
        load(env={"LOGAUDIT_SITE_HOSTS": "ok.example,https://shop.example/"})
    ok = ("shop.example.com", "www.Example.org.", "bücher.example", "shop.example.com:8080")
    assert load({"site_hosts": ok}, env={}).site_hosts == ok


def _referring_sites(log: Path, host: str) -> list[str]:
    code, out, err = run("summary", log, "--site-host", host, "--format", "json")
    assert code == 0, err
    section = next(s for s in json.loads(out)["sections"] if s["name"] == "referring-sites")
    return sorted(r["site"] for r in section["rows"])


@pytest.mark.parametrize(("host", "site"), [
    ("[2001:db8::1]:8080", "[2001:db8::1]"), ("[2001:db8::1]", "[2001:db8::1]"),
    ("2001:db8::1", "[2001:db8::1]"), ("2001:0DB8::1", "[2001:db8::1]"),
    ("[::ffff:192.0.2.1]:443", "[::ffff:192.0.2.1]"), ("[::ffff:192.0.2.1]", "[::ffff:c000:201]"),
    ("Shop.Example.com:8080", "shop.example.com"), ("www.shop.example.com", "shop.example.com"),
])
def test_a_site_host_may_be_an_ipv6_literal(tmp_path: Path, host: str, site: str) -> None:
    """Taken (the host-name check refused them, exit 2) and matched: bare, with a port or not
    in canonical form, the site's own referrals were still listed as outside referrers."""
    ref = site.replace("[", "http://[").replace("]", "]:8080") if "[" in site else site
    ref = ref if ref.startswith("http") else f"http://www.{site}:8080"
    line = LINE.replace('"-"', f'"{ref}/home"')
    log = write(tmp_path / "a.log", line + LINE.replace('"-"', '"https://other.example/"'))
    assert _referring_sites(log, "elsewhere.example") == sorted([site, "other.example"])
    assert _referring_sites(log, host) == ["other.example"]
    assert load({"site_hosts": (host,)}, env={}).site_hosts == (host,)


@pytest.mark.parametrize("host", ["[2001:db8::1", "[2001:db8::zz]", "[2001:db8::1]:", "1:2:3",
                                  "[2001:db8::1]/x", "fe80::1%eth0"])
def test_a_site_host_that_is_no_ipv6_literal_is_still_refused(host: str) -> None:
    with pytest.raises(LogauditError, match=r"is not a host name \(shop.example.com or \[20"):
        load({"site_hosts": (host,)}, env={})


def test_a_system_file_on_the_test_machine_stops_the_session(tmp_path: Path) -> None:
    """Subprocesses would read it (isolate moves SYSTEM_CONFIG in this process only)."""
    from tests.conftest import no_system_config

    no_system_config()  # isolate's SYSTEM_CONFIG: none
    write(config.SYSTEM_CONFIG, "top = 3\n", 0o644)
    with pytest.raises(pytest.exit.Exception, match="every logaudit run reads it"):
        no_system_config()


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_a_system_file_nobody_can_tell_of_stops_the_session_too(tmp_path: Path) -> None:
    """/etc/logaudit 0700 and the tests run by another user: lexists said "absent" and the
    session ran, its subprocesses refused (exit 7). Run as nobody in a child process."""
    from tests.conftest import no_system_config

    write(config.SYSTEM_CONFIG, "top = 3\n", 0o644)
    config.SYSTEM_CONFIG.parent.chmod(0o700)
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's own exit code says what happened)
        try:
            os.setgid(pwd.getpwuid(NOBODY).pw_gid)
            os.setuid(NOBODY)
            no_system_config()
        except pytest.exit.Exception as e:
            os._exit(3 if "cannot be told (Permission denied)" in str(e) else 4)
        except BaseException:
            os._exit(5)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to root's group needs root")
def test_a_private_group_is_nobody_elses_primary_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """useradd -g root bob: bob writes root's 0620 root:root file; gr_mem does not list him."""
    me = pwd.getpwuid(os.geteuid())
    conf = write(Path.cwd() / "logaudit.toml", EVIL, 0o620)
    os.chown(conf, -1, me.pw_gid)
    # Only me in /etc/passwd: the host's own may give root's group to another user (Fedora's
    # and RHEL's operator has gid 0), and the file was refused there.
    monkeypatch.setattr(pwd, "getpwall", lambda: [me])
    assert run("config")[0] == 0  # a private group: as the owner's own
    bob = pwd.struct_passwd(("bob", "x", 4242, me.pw_gid, "", "/home/bob", "/bin/sh"))
    monkeypatch.setattr(pwd, "getpwall", lambda: [me, bob])  # what /etc/passwd would say
    code, _, err = run("config")
    assert code == ExitCode.CONFIG and "others may write the file" in err and "(mode 0620)" in err
