"""Markdown (GitHub-flavoured): headings, pipe tables, for a wiki page or a chat message.

Every string goes through ``view.text`` first (control characters as escapes), then through
``md()``: Markdown punctuation is backslash-escaped and ``<``, ``>``, ``&`` become entities, so
nothing from the log turns into markup, raw HTML or a link. Text cells of tables are code spans,
where a Markdown renderer makes no link (GitHub otherwise autolinks ``www.`` and ``http://``).
"""

from __future__ import annotations

import re
from typing import TextIO

from logaudit.render import view
from logaudit.report import Report

_PUNCT = re.compile(r"([\\`*_\[\]|~!])")
_AUTOLINK = re.compile(r"(?i)(www)\.|:(?=//)")
_LEADING = re.compile(r"^([#+\-=>]|\d+(?=[.)]))")


def md(s: str, block: bool = False) -> str:
    """Plain Markdown text: no markup, no raw HTML, no link (a backslash before the ``.`` of
    ``www.`` and the ``:`` of ``://`` stops GitHub's autolinks). ``block``: the text starts a
    paragraph, where a leading ``#``, ``-`` or ``1.`` would make a heading or a list."""
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _PUNCT.sub(r"\\\1", s)
    s = _AUTOLINK.sub(lambda m: f"{m.group(1)}\\." if m.group(1) else "\\:", s)
    # A leading heading/list/quote mark: "\#"; "12." -> "12\." (a digit takes no escape).
    if not block:
        return s
    return _LEADING.sub(lambda m: m.group() + "\\" if m.group().isdigit() else "\\" + m.group(), s)


def code(s: str) -> str:
    """A code span in a table cell: backticks fenced by a longer run, ``|`` escaped (GFM)."""
    if not s:
        return ""
    ticks = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    body = s.replace("|", "\\|")
    return f"{fence}{pad}{body}{pad}{fence}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render(report: Report, out: TextIO) -> None:
    w = out.write
    w(f"# logaudit {md(report.command)}\n\n{md(view.period_line(report), block=True)}\n\n")
    for warning in report.warnings:
        w(f"> **Warning:** {md(view.text(warning))}\n\n")
    if view.no_request(report):
        w(md(view.no_request_message(report), block=True) + "\n\n")
    else:
        w("## Overview\n\n| | |\n|---|--:|\n")
        for label, value in view.overview_items(report):
            w(_row([md(label), md(value)]) + "\n")
        w("\n")
        for sec in report.sections:
            if sec.rows.empty:
                w(f"## {md(view.text(sec.title))}\n\n{md('nothing to show')}")
                w(f" ({md(view.text(sec.note))})\n\n" if sec.note else "\n\n")
                continue
            tv = view.table_view(sec)
            w(f"## {md(tv.title)}\n\n")
            w(_row([md(c.label) for c in tv.columns]) + "\n")
            w(_row(["--:" if c.numeric else "---" for c in tv.columns]) + "\n")
            for cells in tv.cells:
                w(
                    _row(
                        [
                            md(x) if c.numeric else code(x)
                            for c, x in zip(tv.columns, cells, strict=True)
                        ]
                    )
                    + "\n"
                )
            caption = tv.caption()
            w(f"\n*{md(caption)}*\n\n" if caption else "\n")
    w("## Inputs\n\n")
    columns = view.input_columns(report)
    if not report.inputs:
        w(md(view.NO_INPUTS) + "\n")
    else:
        w(_row(list(columns)) + "\n" + _row(["---", "---"] + ["--:"] * (len(columns) - 2)) + "\n")
    for row in view.inputs_rows(report):
        w(_row([code(row[0]), md(row[1]), *[md(x) for x in row[2:]]]) + "\n")
    examples = view.bad_examples(report)
    if examples:
        w(f"\n{view.bad_examples_title(report)}\n\n")
        for ex in examples:
            w(f"- {code(ex)}\n")
    if report.notes:
        w("\n")
        for n in report.notes:
            w(f"- {md(view.text(n))}\n")
