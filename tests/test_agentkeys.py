"""The agents' lookup keys computed in Arrow over a whole index (``AgentClassifier._keys``):
the same rows as through Python strings, the coded columns the agents table keeps, and the
keys of a block's categories computed once for the enricher and the agents table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.audience import _coded
from logaudit.enrich import agents as agents_mod
from logaudit.enrich.agents import (
    _BUILD_3,
    _BUILD_3_LEFT,
    _BUILD_4,
    COLUMNS,
    MAX_AGENT,
    AgentClassifier,
    _analysable,
    lookup_keys,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v} Safari/537.36"
)
AGENTS = [
    CHROME.format(v="120.0.6099.109"),
    CHROME.format(v="120.0.6099.110"),  # shares the first's key
    CHROME.format(v="120.1.2"),  # a three-component version
    CHROME.format(v="120.0.0"),
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "CFNetwork/672.0.8 Darwin/14.0.0",
    "curl/8.4.0",
    "-",
    "",
    "Übersetzer/1.0 (é) " + "ü" * (MAX_AGENT + 50),  # cut to MAX_AGENT characters
    "x" * (MAX_AGENT + 10) + " Chrome/1.2.3.4",  # the version falls past the cut
]


def _python_key(text: str) -> str:
    """The keys' rule spelt with Python's re, as a reference."""
    text = re.sub(_BUILD_4, r"\1.0.0", text)
    return re.sub(_BUILD_3, r"\1.0", text) if re.search(_BUILD_3_LEFT, text) else text


def test_lookup_keys_match_the_rule() -> None:
    texts = [_analysable(a) for a in AGENTS]
    assert lookup_keys(texts) == [_python_key(t) for t in texts]
    assert lookup_keys(texts)[2] == CHROME.format(v="120.1.0")


def test_arrow_index_classified_as_python_strings() -> None:
    """An Arrow-backed index (a block's categories) gets the rows an object index of the same
    agents gets, missing values and duplicates included."""
    agents = [*AGENTS, AGENTS[0], AGENTS[4]]
    arrow = AgentClassifier().classify(pd.Index([*agents, None], dtype="str"))
    python = AgentClassifier().classify(pd.Index([*agents, None], dtype=object))
    assert isinstance(pd.Index(agents, dtype="str").array, pd.arrays.ArrowStringArray)
    for col in COLUMNS:
        assert list(arrow[col]) == list(python[col]), col
        assert arrow[col].dtype == "str"
    assert list(arrow.index[:-1]) == agents


def test_coded_columns_are_the_text_columns_coded() -> None:
    """``coded=True`` gives what ``audience._coded`` made of the text columns (categories in
    the same order), and ``at`` the rows of the agents at those positions."""
    index = pd.Index([*AGENTS, *AGENTS[::-1]], dtype="str")
    at = np.array([5, 0, 3, 3, 11, 7, 2])
    c = AgentClassifier()
    text = c.classify(index.take(at))
    coded = c.classify(index, at, coded=True)
    expected = _coded(text)
    assert list(coded.index) == list(index.take(at))
    for col in COLUMNS:
        assert isinstance(coded[col].dtype, pd.CategoricalDtype)
        assert list(coded[col].cat.categories) == list(expected[col].cat.categories), col
        assert list(coded[col]) == list(text[col]), col
    whole = c.classify(pd.Index(AGENTS, dtype="str"), coded=True)
    assert list(whole["browser"]) == list(c.classify(pd.Index(AGENTS))["browser"])


def test_a_blocks_keys_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The enricher's classes and the agents table ask for the same categories: their keys
    are computed once; another index, even of the same text, is computed again."""
    calls: list[int] = []
    keys = agents_mod._arrow_keys

    def counted(arr: object) -> object:
        calls.append(1)
        return keys(arr)  # type: ignore[arg-type]

    monkeypatch.setattr(agents_mod, "_arrow_keys", counted)
    c = AgentClassifier()
    cats = pd.Categorical(AGENTS * 2).categories
    codes = c.classes(cats)
    table = c.classify(cats, np.arange(3), coded=True)
    assert len(calls) == 1
    assert list(table["agent_class"]) == [["person", "crawler", "tool"][k] for k in codes[:3]]
    # Another index of the same texts (the next block's categories): each text's key is
    # remembered, none is rewritten again; a text not seen yet is, alone.
    c.classify(pd.Index(list(cats), dtype="str"))
    assert len(calls) == 1
    c.classify(cats, np.arange(3), coded=True)  # the agents table asked last: forgotten
    assert len(calls) == 1 and c._recent == []
    c.classes(cats, rows=False)  # a run without the agents table: nothing held
    assert len(calls) == 1 and c._recent == []
    seen: list[int] = []
    monkeypatch.setattr(agents_mod, "_arrow_keys", lambda arr: seen.append(len(arr)) or keys(arr))
    more = pd.Index([*AGENTS, "NewBot/1.0 (+http://new.example)"], dtype="str")
    assert c.classes(more)[-1] == 1 and seen == [1]
    c._key_of.clear()  # forgotten (past KEYS_KNOWN texts): computed again, all of them
    c.classes(pd.Index(list(more), dtype="str"))
    assert seen == [1, len(more)]
    for _ in range(agents_mod.RECENT + 1):  # the oldest is forgotten, answers stay right
        c.classes(pd.Index(AGENTS, dtype="str"))
    assert (c.classes(cats) == codes).all()


@pytest.mark.shared
def test_arrow_keys_on_uap_core(corpus_agents: list[str]) -> None:
    """Every agent of uap-core's test cases and crawler-user-agents' instances gets the same
    row from an Arrow-backed index as from an object index (Python strings)."""
    agents = corpus_agents
    arrow = AgentClassifier().classify(pd.Index(agents, dtype="str"))
    python = AgentClassifier().classify(pd.Index(agents, dtype=object))
    assert len(agents) > 3000
    assert arrow.equals(python)
