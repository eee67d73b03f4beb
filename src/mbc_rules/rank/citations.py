"""The sentences a ranking cites: the statements behind the sources' orderings, the
result's form of a citation, an option's citations grouped by what they name, and the
citations that stand for a patient outside a population.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mbc_rules.result import CitationGroup, CitedSource, constructed
from mbc_rules.schema import Citation, Rule, Source, Statement
from mbc_rules.vocabulary import TIERS

# The statements (rules/statements.yaml) behind the orderings and behind "not again". The
# rulebase resolves them from its inventory and hands them to rank(); docs/ranking.md quotes
# them, and a statement used here says so in its ``no_rule``.
ORDERING_STATEMENTS: dict[str, tuple[str, ...]] = {
    "systemic_first": ("acs-local-therapy-indications-3",),
    "hormone_as_long_as_possible": (
        "ysc-hr-positive-first-line-1",
        "ysc-chemotherapy-after-hormone-therapy-1",
    ),
    "chemotherapy_first": ("acs-visceral-crisis-chemotherapy-1",),
    "anti_her2_in_every_therapy": ("ysc-her2-positive-anti-her2-1",),
    "move_on": (
        "ysc-switch-on-progression-1",
        "acs-continue-while-effective-1",
        "acs-switch-on-progression-1",
    ),
}
Sentences = Mapping[str, tuple[Citation, ...]]


def ordering_sentences(statements: Iterable[Statement]) -> dict[str, tuple[Citation, ...]]:
    """The citations of ``ORDERING_STATEMENTS``, from an inventory of statements.

    Raises:
        KeyError: the inventory lacks one of them (the bundled one has them all).
    """
    by_id = {s.id: s for s in statements}
    return {
        key: tuple(
            Citation.model_construct(
                statement=by_id[i].id,
                source=by_id[i].source,
                section=by_id[i].section,
                excerpt=by_id[i].excerpt,
                population=by_id[i].population,
            )
            for i in ids
        )
        for key, ids in ORDERING_STATEMENTS.items()
    }


def cite(citations: Sequence[Citation], sources: Mapping[str, Source]) -> tuple[CitedSource, ...]:
    """The result's form of citations, with each source's publisher."""
    return tuple(
        _cited(c, sources[c.source].publisher if c.source in sources else c.source)
        for c in citations
    )


_CITED: dict[tuple[int, str], tuple[Citation, CitedSource]] = {}


def _cited(citation: Citation, publisher: str) -> CitedSource:
    # Citations are static: built once, shared by every result that cites them. Keyed by the
    # citation object (kept alive by the entry, so its id is not reused while cached): hashing
    # the model's fields on every call cost more than building the result.
    key = (id(citation), publisher)
    found = _CITED.get(key)
    if found is not None and found[0] is citation:
        return found[1]
    if len(_CITED) > 65_536:
        _CITED.clear()
    made = CitedSource(
        source=citation.source,
        publisher=publisher,
        section=citation.section,
        excerpt=citation.excerpt,
        statement=citation.statement,
    )
    _CITED[key] = (citation, made)
    return made


def citation_groups(
    rules: Sequence[Rule],
    agents: Sequence[str],
    regimens: Sequence[tuple[str, ...]],
    citations: Sequence[CitedSource],
    sources: Mapping[str, Source],
) -> tuple[CitationGroup, ...]:
    """The option's citations grouped by the drugs or regimens of it their rules name: the
    strongest tier first, then the group more sources stand behind.
    """
    offered_agents = set(agents)
    offered_regimens = set(regimens)
    position = {citation: index for index, citation in enumerate(citations)}
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], tuple[int, list[int]]] = {}
    for rule in rules:
        offer = rule.then.offer
        if offer is None:
            continue
        label = (
            tuple(a for a in offer.agents if a in offered_agents),
            tuple(tuple(r.agents) for r in offer.regimens if tuple(r.agents) in offered_regimens),
        )
        tier = TIERS.index(offer.tier)
        best, cited = groups.get(label, (tier, []))
        for citation in cite(rule.citations, sources):
            at = position.get(citation)
            if at is not None and at not in cited:
                cited.append(at)
        groups[label] = (min(best, tier), cited)
    ordered = sorted(
        (item for item in groups.items() if item[1][1]),
        key=lambda item: (item[1][0], -len({citations[i].source for i in item[1][1]})),
    )
    return tuple(
        constructed(
            CitationGroup,
            {
                "agents": named,
                "regimens": combos,
                "tier": TIERS[tier],
                "citations": tuple(cited),
            },
        )
        for (named, combos), (tier, cited) in ordered
    )


def unique_citations(rules: Sequence[Rule]) -> list[Citation]:
    """The citations of ``rules``, each sentence of a source once, in the order first cited."""
    seen: dict[tuple[str, str], Citation] = {}
    for rule in rules:
        for citation in rule.citations:
            seen.setdefault((citation.source, citation.excerpt), citation)
    return list(seen.values())


def speaking_of(fired: Sequence[Rule], excluded_populations: Iterable[str]) -> list[Rule]:
    """The rules as they read for a patient outside ``excluded_populations``.

    A citation whose sentence speaks only of, say, women supports nothing for a man: it is
    dropped, and a rule left without a citation does not count.
    """
    excluded = set(excluded_populations)
    if not excluded:
        return list(fired)
    kept = []
    for rule in fired:
        citations = [c for c in rule.citations if c.population not in excluded]
        if citations:
            kept.append(
                rule
                if len(citations) == len(rule.citations)
                else rule.model_copy(update={"citations": citations})
            )
    return kept
