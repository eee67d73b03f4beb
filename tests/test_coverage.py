"""Every statement of the sources traces to a rule or a reason; every rule to a statement."""

from __future__ import annotations

from mbc_rules import Rulebase
from mbc_rules.docs import coverage_markdown, profile_markdown
from mbc_rules.facts import facts_markdown

from .conftest import ROOT


def test_every_listed_statement_has_rules_or_a_reason(bundled: Rulebase) -> None:
    missing = [
        f"{e.source}: {e.excerpt[:70]}" for e in bundled.coverage if not (e.rules or e.no_rule)
    ]
    assert missing == []


def test_every_rule_encodes_a_listed_statement(bundled: Rulebase) -> None:
    referenced = {rule_id for entry in bundled.coverage for rule_id in entry.rules}
    assert [r.id for r in bundled.rules if r.id not in referenced] == []


def test_every_source_is_inventoried(bundled: Rulebase) -> None:
    assert {e.source for e in bundled.coverage} == set(bundled.sources)


def test_generated_documents_are_current(bundled: Rulebase) -> None:
    # Regenerate with `make docs`.
    assert (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8") == coverage_markdown(bundled)
    assert (ROOT / "docs" / "facts.md").read_text(encoding="utf-8") == facts_markdown()
    assert (ROOT / "docs" / "profile.md").read_text(encoding="utf-8") == profile_markdown()


def test_every_drug_the_sources_name_is_reachable(bundled: Rulebase) -> None:
    """Each drug named in a source appears in the answer for some rule's own example."""
    reached: set[str] = set()
    for rule in bundled.rules:
        for example in rule.examples:
            if example.fires:
                for option in bundled.evaluate(example.profile).options:
                    reached.update(option.agents)
                    reached.update(a for r in option.regimens for a in r.agents)
    drugs = {a.id for a in bundled.vocabulary.agents.values() if a.in_sources and a.kind == "drug"}
    assert sorted(drugs - reached) == []
