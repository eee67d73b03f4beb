"""The statement inventory is complete, written once, and agrees with the rules that cite it.

``rules/statements.yaml`` holds every statement of the five sources under a stable id; rules cite
those ids, so an excerpt is written in one place only. Completeness is tested here, not asserted:
each source text is split into sentences, and every sentence that is not page furniture must
stand inside a statement of the inventory, at its own place in the text.

What counts as page furniture (the explicit rule; nothing else is skipped):

1. a heading: a line that is not a bullet, does not end as a sentence does (``.``, ``!``, ``?``
   or ``:``, a closing quote or bracket aside) and has at most twelve words ("Hormone Therapy",
   "Tamoxifen", "Request An Appointment", "Skip Navigation"). Headings are the inventory's
   ``section`` values, not statements;
2. a list label: a line of at most five words ending in ``:`` ("Types:", "Side effects:",
   "Why you might choose it:");
3. named furniture: a line reading ``Loading...``; WebMD's banner ("Content independently created
   by WebMD ..."); a drop cap (a line of a single letter, the first letter of the next
   paragraph, whose statement therefore begins with the rest of the word); and the American
   Cancer Society's back matter, from "The American Cancer Society medical and editorial content
   team" to the end (authors, references, review dates, reprint notice).

Bullets (lines starting with "•") are statements like any sentence.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mbc_rules import Rulebase
from mbc_rules.schema import Statement

from .conftest import ROOT, RULES_DIR, SOURCES_DIR

needs_sources = pytest.mark.skipif(
    not SOURCES_DIR.is_dir(), reason="source texts not beside the repo"
)

_TYPOGRAPHY = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-", "\u2013": "-"}
)


def normalise(text: str) -> str:
    """As every citation check compares: case, white space, typographic quotes and bullets aside."""
    return " ".join(text.translate(_TYPOGRAPHY).replace("\u2022", " ").split()).casefold()


_BANNER = "Content independently created by WebMD"
_BACK_MATTER = "The American Cancer Society medical and editorial content team"
_SENTENCE_END = re.compile(r"[.!?:][\"'\u201d\u2019)]*$")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?:])[\"'\u201d\u2019)]*\s+(?=[A-Z0-9\"'\u201c(])")


def is_furniture(line: str) -> bool:
    """Rules 1-3 of the module docstring (the back matter is cut off before lines are read)."""
    text = line.strip()
    if text.startswith("\u2022"):
        return False
    words = text.split()
    if text == "Loading..." or text.startswith(_BANNER) or re.fullmatch(r"[A-Za-z]", text):
        return True
    if not _SENTENCE_END.search(text) and len(words) <= 12:
        return True  # a heading
    return text.endswith(":") and len(words) <= 5  # a list label


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset in the normalised document
    end: int


def sentences(document: str) -> tuple[str, list[Sentence]]:
    """The normalised document and its guidance sentences, each with its place in it."""
    parts: list[str] = []
    found: list[Sentence] = []
    offset = 0
    back_matter = False
    for line in document.splitlines():
        norm_line = normalise(line)
        if not norm_line:
            continue
        if parts:
            offset += 1  # the space that joins lines in the normalised document
        start_of_line = offset
        parts.append(norm_line)
        offset += len(norm_line)
        back_matter = back_matter or line.strip().startswith(_BACK_MATTER)
        if back_matter or is_furniture(line):
            continue
        cursor = start_of_line
        for piece in _SENTENCE_BREAK.split(line.strip().lstrip("\u2022").strip()):
            norm_piece = normalise(piece)
            if norm_piece:
                at = " ".join(parts).index(norm_piece, cursor)
                found.append(Sentence(piece, at, at + len(norm_piece)))
                cursor = at + len(norm_piece)
    text = " ".join(parts)
    assert text == normalise(document)  # the same text every citation check reads
    return text, found


def missing_sentences(document: str, statements: Sequence[Statement]) -> list[str]:
    """Sentences of the document that no statement covers at their own place."""
    text, found = sentences(document)
    covered = bytearray(len(text))
    lines = {normalise(line) for line in document.splitlines()}
    starts = {s.start for s in found}
    for statement in statements:
        excerpt = normalise(statement.excerpt)
        heading = normalise(statement.section)
        after = max(text.find(heading), 0) if heading in lines else 0
        occurrences = [m.start() for m in re.finditer(re.escape(excerpt), text)]
        # A statement stands under its heading, where a sentence or list item begins: the
        # first such occurrence (short list items such as "HER2-positive" recur under several
        # headings, and inside other sentences).
        at = next(
            (o for o in occurrences if o >= after and o in starts),
            next((o for o in occurrences if o >= after), occurrences[0] if occurrences else -1),
        )
        if at >= 0:
            covered[at : at + len(excerpt)] = b"\x01" * len(excerpt)
    return [
        s.text
        for s in found
        if not all(covered[i] or text[i] == " " for i in range(s.start, s.end))
    ]


def by_source(bundled: Rulebase) -> Iterable[tuple[str, str, list[Statement]]]:
    for source in bundled.sources.values():
        document = (SOURCES_DIR / source.document).read_text(encoding="utf-8")
        yield source.id, document, [s for s in bundled.coverage if s.source == source.id]


@needs_sources
def test_every_sentence_of_every_source_is_in_the_inventory(bundled: Rulebase) -> None:
    missing = {
        source_id: found
        for source_id, document, statements in by_source(bundled)
        if (found := missing_sentences(document, statements))
    }
    assert missing == {}


@needs_sources
def test_a_statement_left_out_is_reported(bundled: Rulebase) -> None:
    # The check must be able to fail: drop one guidance statement and its sentence is missing.
    for source_id, document, statements in by_source(bundled):
        if source_id != "acs":
            continue
        dropped = next(s for s in statements if s.id == "acs-hr-positive-first-line-1")
        rest = [s for s in statements if s is not dropped]
        assert missing_sentences(document, rest) == [dropped.excerpt]


def test_furniture_is_only_what_the_rule_names() -> None:
    assert is_furniture("Hormone Therapy")
    assert is_furniture("Why you might choose it:")
    assert is_furniture("Loading...")
    assert is_furniture("I")
    assert not is_furniture("  \u2022 Hormone-receptor-positive")
    assert not is_furniture("If this happens, other drugs might be tried.")
    # A long line with no full stop is read, not skipped as a heading.
    assert not is_furniture(" ".join(["word"] * 13))


@needs_sources
def test_every_excerpt_stands_in_its_source_and_once_in_the_inventory(bundled: Rulebase) -> None:
    texts = {
        s.id: normalise((SOURCES_DIR / s.document).read_text(encoding="utf-8"))
        for s in bundled.sources.values()
    }
    assert [s.id for s in bundled.coverage if normalise(s.excerpt) not in texts[s.source]] == []
    seen: dict[tuple[str, str, str], str] = {}
    twice = []
    for s in bundled.coverage:
        key = (s.source, s.section, normalise(s.excerpt))
        if key in seen:
            twice.append((seen[key], s.id))
        seen.setdefault(key, s.id)
    assert twice == []


def _mappings(node: object) -> Iterable[dict[str, object]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def test_excerpts_are_written_only_in_the_inventory() -> None:
    written = [
        path.name
        for path in sorted(RULES_DIR.glob("*.yaml"))
        if path.name != "statements.yaml"
        for node in _mappings(yaml.safe_load(path.read_text(encoding="utf-8")))
        if "excerpt" in node
    ]
    assert written == []


def test_the_rules_of_a_statement_are_exactly_those_citing_it(bundled: Rulebase) -> None:
    citing: dict[str, set[str]] = {}
    for rule in bundled.rules:
        for citation in rule.citations:
            citing.setdefault(citation.statement, set()).add(rule.id)
    assert {s.id: set(s.rules) for s in bundled.coverage if s.rules} == citing
    # A statement that no rule cites says why; one that rules cite has no such reason.
    assert [s.id for s in bundled.coverage if not s.rules and not s.no_rule] == []
    assert [s.id for s in bundled.coverage if s.rules and s.no_rule] == []


def test_a_result_cites_statements_of_the_inventory(bundled: Rulebase) -> None:
    inventory = {s.id: s for s in bundled.coverage}
    result = bundled.evaluate({"er_status": "positive", "her2_status": "negative"})
    cited = [c for o in result.options for c in o.citations]
    assert cited
    for citation in cited:
        statement = inventory[citation.statement]
        assert (citation.source, citation.section, citation.excerpt) == (
            statement.source,
            statement.section,
            statement.excerpt,
        )


def test_statement_ids_read_as_source_and_topic(bundled: Rulebase) -> None:
    for statement in bundled.coverage:
        assert statement.id.startswith(f"{statement.source}-"), statement.id
        assert re.fullmatch(r"[a-z0-9-]+-[0-9]+", statement.id), statement.id


SHARED_CHECK = Path("/work/shared/tools/check_citations.py")


@needs_sources
@pytest.mark.skipif(not SHARED_CHECK.is_file(), reason="shared citation check not present")
def test_the_shared_citation_check_reads_the_inventory() -> None:
    done = subprocess.run(
        [sys.executable, str(SHARED_CHECK), str(RULES_DIR), str(SOURCES_DIR)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout
    checked = int(done.stdout.split("/")[1].split()[0])
    assert checked >= 300  # the inventory's excerpts, each read once


def test_the_conversion_tool_turns_written_excerpts_into_statement_ids(tmp_path: Path) -> None:
    from .test_rule_errors import GOOD_RULE

    (tmp_path / "statements.yaml").write_text(
        (RULES_DIR / "statements.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    written = GOOD_RULE.replace(
        "      - acs-her2-positive-pertuzumab-1\n",
        "      - source: acs\n        section: HER2-positive cancers\n        excerpt: >-\n"
        "          Pertuzumab (Perjeta), another targeted drug,\n"
        "          might be added as well.\n",
    )
    (tmp_path / "local.yaml").write_text(written, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "cite_statements.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert (tmp_path / "local.yaml").read_text(encoding="utf-8") == GOOD_RULE
    assert [r.id for r in Rulebase.load(tmp_path).rules] == ["local-rule"]
