"""Every excerpt stands word for word in its source (white space, case and quotes aside).

Excerpts are written once, in the statement inventory (``rules/statements.yaml``); rules cite
statement ids, so checking the inventory checks every citation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mbc_rules import Rulebase

from .conftest import SOURCES_DIR

pytestmark = pytest.mark.skipif(not SOURCES_DIR.is_dir(), reason="source texts not beside the repo")

_QUOTES = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2014": "-",
        "\u2013": "-",
        "\u2022": " ",
    }
)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(_QUOTES)).strip().lower()


def document(path: Path) -> str:
    return normalise(path.read_text(encoding="utf-8"))


def test_every_source_document_exists(bundled: Rulebase) -> None:
    for source in bundled.sources.values():
        assert (SOURCES_DIR / source.document).is_file(), source.document


def test_every_excerpt_is_verbatim(bundled: Rulebase) -> None:
    texts = {s.id: document(SOURCES_DIR / s.document) for s in bundled.sources.values()}
    missing = [
        f"{s.id}: {s.excerpt[:80]!r}"
        for s in bundled.coverage
        if normalise(s.excerpt) not in texts[s.source]
    ]
    assert missing == []
    assert len(bundled.coverage) > 300


def test_a_changed_word_is_caught(bundled: Rulebase) -> None:
    # The check itself must be able to fail: alter one word of a real excerpt.
    rule = bundled.rules[0]
    citation = rule.citations[0]
    text = document(SOURCES_DIR / bundled.sources[citation.source].document)
    first, rest = citation.excerpt.split(" ", 1)
    altered = f"{first} not {rest}"
    assert normalise(altered) not in text
