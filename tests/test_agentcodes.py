"""``AgentClassifier.classify(coded=True)`` numbers each column's values once per classifier
(``_row_codes``), across blocks: every block's coded columns must still be what coding its
own text columns gives (categories in order of first appearance among its rows), whichever
blocks came before, and after the numbers start again (``max_cached``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logaudit.analyze.audience import _coded
from logaudit.enrich.agents import COLUMNS, AgentClassifier

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "-",
    "",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
]


def _check(c: AgentClassifier, index: pd.Index, at: np.ndarray) -> None:
    text = AgentClassifier().classify(index.take(at))
    coded = c.classify(index, at, coded=True)
    expected = _coded(text)
    for col in COLUMNS:
        assert list(coded[col].cat.categories) == list(expected[col].cat.categories), col
        assert list(coded[col]) == list(text[col]), col
        assert coded[col].cat.codes.tolist() == expected[col].cat.codes.tolist(), col


@pytest.mark.parametrize("max_cached", [1_000_000, 3])
def test_coded_blocks_in_any_order(max_cached: int) -> None:
    rng = np.random.default_rng(11)
    c = AgentClassifier(max_cached=max_cached)
    for _ in range(12):
        # A block: some of the agents, in a new order, its rows using some of them.
        chosen = rng.permutation(len(AGENTS))[: rng.integers(1, len(AGENTS) + 1)]
        index = pd.Index([AGENTS[i] for i in chosen], dtype="str")
        at = rng.integers(0, len(index), rng.integers(0, 3 * len(index) + 1))
        _check(c, index, at)


def test_no_rows() -> None:
    c = AgentClassifier()
    coded = c.classify(pd.Index(AGENTS[:3], dtype="str"), np.zeros(0, np.intp), coded=True)
    assert len(coded) == 0 and list(coded.columns) == list(COLUMNS)
