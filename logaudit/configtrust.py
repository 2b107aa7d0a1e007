"""Whose config file may be read: one that can run a program (``[mail] sendmail``) and send
reports anywhere must be the caller's or root's and writable by nobody else, as ssh, sudo and
git's safe.directory ask of theirs (QA22 #1). ``config`` calls ``trusted`` on each open file
(and on ``./logaudit.toml``'s folder), and ``others_may_read`` where the file holds a password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from logaudit.errors import ConfigError


def trusted(st: os.stat_result, path: Path, what: str = "file", where: str = "config file") -> None:
    """Refuse (ConfigError, exit 7) a config file (``st``: its ``fstat``, taken on the open file
    so that it cannot be swapped after the check) that belongs to another user than the one
    running logaudit and root, or that others (group or world) may write; ``what`` = "folder":
    the same of the folder ``./logaudit.toml`` is in (whoever may write the folder may put the
    file there). As ssh, sudo and git's safe.directory do: a config file can run a program
    (``[mail] sendmail``) and send reports anywhere (QA22 #1). ``/dev/null`` (no file) passes."""
    me = os.geteuid()
    shown = path.parent if what == "folder" else path
    if st.st_uid not in (me, 0):
        allowed = "root" if me == 0 else f"you ({_user(me)}) or root"
        raise ConfigError(
            f"{where} {path}: not read: the {what} {shown} belongs to {_user(st.st_uid)}, "
            f"not to {allowed} (a config file can run a program)"
        )
    group_ok = st.st_mode & 0o020 and _private_group(st)  # grp/pwd only when it matters
    others = st.st_mode & (0o002 if group_ok else 0o022)
    if others and not (what == "file" and os.path.realpath(path) == os.devnull):
        # Not "chmod go-w" of a folder: it may be /tmp.
        fix = f"chmod go-w {shown}" if what == "file" else "move it, or name it with --config"
        raise ConfigError(
            f"{where} {path}: not read: others may write the {what} {shown} "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); {fix}"
        )


def others_may_read(st: os.stat_result) -> bool:
    """A regular file (``st``: the ``fstat`` of the one read) whose group or others have any
    permission: an SMTP password in it is not secret. On the open file, as ``trusted``: the
    path stat'ed again after the read may name another file (or none, and a failed stat
    passed the check)."""
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o077)


def _private_group(st: os.stat_result) -> bool:
    """The file's group is its owner's own (a user private group: same name, the owner's
    primary group, no other member, nobody else's primary group), so group-writable is
    owner-writable: a umask of 002, the default of many distributions, makes files so
    (Debian's ssh allows it the same way)."""
    import grp
    import pwd

    try:
        owner, group = pwd.getpwuid(st.st_uid), grp.getgrgid(st.st_gid)
    except KeyError:
        return False
    if group.gr_name != owner.pw_name or owner.pw_gid != st.st_gid:
        return False
    # Nobody else in it: neither a listed member nor a user whose primary group it is
    # (useradd -g alice bob: bob writes alice's 0664 file, and gr_mem does not show him).
    return set(group.gr_mem) <= {owner.pw_name} and not any(
        u.pw_gid == st.st_gid and u.pw_uid != st.st_uid for u in pwd.getpwall()
    )


def _user(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
