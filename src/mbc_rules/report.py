"""Reports of one answer for a person: the text table of the command line and a Markdown page.

Both, and the notebook view (``display``), are built from the same reading of a result
(:func:`read_options`): readable names, ranks with ties marked, the rationale, and the
citations grouped by the drug or regimen they support, strongest first, with the dates the
sources give. They are functions of values: the result, its informative tests and what the
rulebase that produced it knows (its vocabulary for names, its rules for per-drug citations,
its sources for dates); ``Rulebase.report`` and ``Rulebase.html`` hand them over. Without a
vocabulary, names fall back to ids.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mbc_rules.rank import cite
from mbc_rules.result import (
    CitedSource,
    Evaluation,
    InformativeTest,
    RankChange,
    TreatmentOption,
)
from mbc_rules.schema import Rule, Source
from mbc_rules.vocabulary import Vocabulary
from mbc_rules.wording import (
    STATUS_LABELS,
    agent_name,
    agent_names,
    category_name,
    join_and,
    patient_facts,
    patient_line,
    requirement,
)

ReportFormat = Literal["text", "markdown"]
_TIER_ORDER = {"preferred": 0, "option": 1, "situational": 2}


@dataclass(frozen=True)
class CitationGroup:
    """The citations of the rules that name the same drugs or regimens within one option."""

    label: str
    tier: str
    citations: tuple[CitedSource, ...]


@dataclass(frozen=True)
class OptionView:
    """One option as a person reads it."""

    option: TreatmentOption
    tied: bool
    name: str
    drugs: tuple[str, ...]
    regimens: tuple[str, ...]
    groups: tuple[CitationGroup, ...]
    agreement: tuple[str, ...]
    history: tuple[str, ...]

    @property
    def rank_label(self) -> str:
        """'2' or, when another option shares the rank, '2='."""
        return f"{self.option.rank}=" if self.tied else str(self.option.rank)


@dataclass(frozen=True)
class Context:
    """What a report reads beside the result: the producing rulebase's vocabulary (names),
    rules (which drug each citation supports) and sources (publishers' dates).
    """

    vocabulary: Vocabulary | None = None
    rules: Mapping[str, Rule] = field(default_factory=dict)
    sources: Mapping[str, Source] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        vocabulary: Vocabulary | None = None,
        rules: Sequence[Rule] = (),
        sources: Mapping[str, Source] | None = None,
    ) -> Context:
        """A context from a rulebase's parts."""
        return cls(vocabulary, {rule.id: rule for rule in rules}, dict(sources or {}))


def source_dates(context: Context, source_id: str) -> str:
    """'last medical review 2019-09-18, last revised 2019-12-23', or '' when none is given."""
    source = context.sources.get(source_id)
    if source is None:
        return ""
    return ", ".join(f"{kind.replace('_', ' ')} {day}" for kind, day in source.dates.items())


_CONDITION = re.compile(r"^\s*([a-z0-9_]+)\s*(=|≠|≥|≤|not in|in)\s*(.+?)\s*$")
_OPERATORS = {
    "=": "equals",
    "≠": "not_equals",
    "≥": "at_least",
    "≤": "at_most",
    "in": "in",
    "not in": "not_in",
}


def _operand(text: str) -> object:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return tuple(_operand(part) for part in text[1:-1].split(",") if part.strip())
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit():
        return int(text)
    return text.strip("'\"")


def condition_words(condition: str) -> str:
    """A condition written in the rules' terms ('chemotherapy_given = true') in plain words
    ('a chemotherapy drug was given'); text it cannot read is returned without underscores.
    """
    match = _CONDITION.match(condition)
    if match is None:
        return condition.replace("_", " ")
    fact, operator, operand = match.groups()
    return requirement(fact, _OPERATORS[operator], _operand(operand))


def agreement_lines(option: TreatmentOption, context: Context) -> tuple[str, ...]:
    """How the sources agree on the option (``option.agreement``, when the result carries
    it): which support it as offered, and which name it only at another time, and when.
    """
    agreement: Any = getattr(option, "agreement", None)
    if agreement is None:
        return ()

    def publisher(source: str) -> str:
        known = context.sources.get(source)
        return known.publisher if known is not None else source

    supporting = [publisher(s) for s in getattr(agreement, "supporting", ())]
    lines = [
        f"supported as offered by {join_and(supporting)}"
        if supporting
        else "no source supports it as offered"
    ]
    for other in getattr(agreement, "conditions_not_met", ()):
        named = agent_names(tuple(getattr(other, "agents", ())), context.vocabulary)
        when = join_and([condition_words(str(c)) for c in getattr(other, "condition", ())])
        lines.append(
            f"{getattr(other, 'publisher', '') or publisher(getattr(other, 'source', ''))} names "
            f"{named or 'it'} only when {when or 'at another time'}, not the case here"
        )
    return tuple(lines)


# Short names for the bundled sources in one-line summaries; other sources go by their id.
_SHORT_SOURCE = {"acs": "ACS", "pdq": "PDQ", "webmd": "WebMD", "ysc": "YSC", "mlh": "MLH"}


def agreement_summary(option: TreatmentOption, context: Context) -> str:
    """How the sources agree, in one line: '4 of 5 sources support it as offered; only when
    no line of treatment for metastatic disease has failed yet: tamoxifen (ACS, WebMD)'.

    The conditions not met are grouped by the situation, so a situation several sources name
    is said once (it was a line per source and statement).
    """
    agreement = option.agreement
    known = len(context.sources)
    count = len(agreement.supporting)
    said = (
        f"{count} of {known} sources support it as offered"
        if known
        else f"{count} source{'s' if count != 1 else ''} support it as offered"
    )
    situations: dict[str, tuple[list[str], list[str]]] = {}
    for other in agreement.conditions_not_met:
        when = join_and([condition_words(str(c)) for c in other.condition]) or "at another time"
        agents, sources = situations.setdefault(when, ([], []))
        agents += [a for a in other.agents if a not in agents]
        short = _SHORT_SOURCE.get(other.source, other.source)
        if short not in sources:
            sources.append(short)
    parts = [said]
    for when, (agents, sources) in situations.items():
        named = agent_names(tuple(agents), context.vocabulary) if agents else "it"
        verb = "names" if len(sources) == 1 else "name"
        parts.append(f"{', '.join(sources)} {verb} {named} only when {when}")
    return "; ".join(parts)


def _one_line(text: str, width: int, indent: str = "") -> str:
    # One line whatever the length: the detail below says the rest.
    return indent + textwrap.shorten(text, width - len(indent), placeholder=" ...")


def answer_block(result: Evaluation, context: Context, width: int = 100) -> list[str]:
    """The answer on one screen, each item one line: the anticancer choices in rank order
    with their drugs and tier, what is given alongside, and what is not recommended and why.
    Every view opens with it (after the patient); the detail follows.
    """
    views = read_options(result, context)
    choices = [v for v in views if v.option.role != "supportive"]
    alongside = [v for v in views if v.option.role == "supportive"]
    lines = []
    if choices:
        lines.append("Choices, in rank order:")
        for view in choices:
            drugs = ", ".join([*view.drugs, *view.regimens]) or "no single drug named"
            local = local_marker(view.option)
            row = f"{view.rank_label} {view.name} ({view.option.tier}){local}: {drugs}"
            lines.append(_one_line(row, width, "  "))
    else:
        lines.append("Choices: none the sources support for this profile")
    if alongside:
        lines.append("Given alongside:")
        for view in alongside:
            drugs = ", ".join(view.drugs)
            name = view.name + local_marker(view.option)
            lines.append(_one_line(name + (f": {drugs}" if drugs else ""), width, "  "))
    refused = not_recommended_lines(result, context.vocabulary)
    if refused:
        lines.append("Not recommended:")
        lines += [_one_line(line, width, "  ") for line in refused]
    return lines


def history_lines(option: TreatmentOption, vocabulary: Vocabulary | None) -> tuple[str, ...]:
    """What of the option the patient has had already without the cancer growing on it, and
    the sources' notes on it (``given_before`` and ``notes``, when the result carries them).
    """
    lines = []
    given = getattr(option, "given_before", ())
    if given:
        said = join_and(
            [
                f"{agent_name(g.agent, vocabulary)} ({g.outcome}, "
                f"{'before metastasis' if g.setting == 'early' else 'for metastatic disease'})"
                for g in given
            ]
        )
        lines.append(f"already given without the cancer growing on it: {said}")
    lines += [str(getattr(note, "text", note)) for note in getattr(option, "notes", ())]
    return tuple(lines)


def _groups(option: TreatmentOption, context: Context) -> tuple[CitationGroup, ...]:
    vocabulary = context.vocabulary
    rules = [context.rules[r] for r in option.rule_ids if r in context.rules]
    if not rules:
        everything = tuple(option.citations)
        return (CitationGroup(category_name(option.category), option.tier, everything),)
    offered_agents = set(option.agents)
    offered_regimens = {
        tuple(r.agents): regimen_words(r.agents, vocabulary) for r in option.regimens
    }
    groups: dict[str, tuple[int, list[CitedSource]]] = {}
    for rule in rules:
        offer = rule.then.offer
        if offer is None:
            continue
        named = [agent_name(a, vocabulary) for a in offer.agents if a in offered_agents]
        named += [
            offered_regimens[tuple(r.agents)]
            for r in offer.regimens
            if tuple(r.agents) in offered_regimens
        ]
        label = join_and(named) if named else f"{category_name(option.category)} in general"
        tier = _TIER_ORDER.get(offer.tier, 3)
        best, cited = groups.get(label, (tier, []))
        for citation in cite(rule.citations, context.sources):
            if citation not in cited and citation in option.citations:
                cited.append(citation)
        groups[label] = (min(best, tier), cited)
    ordered = sorted(
        (kv for kv in groups.items() if kv[1][1]),
        key=lambda kv: (kv[1][0], -len({c.source for c in kv[1][1]})),
    )
    tiers = {v: k for k, v in _TIER_ORDER.items()}
    return tuple(CitationGroup(label, tiers[t], tuple(c)) for label, (t, c) in ordered)


def regimen_words(agents: Sequence[str], vocabulary: Vocabulary | None) -> str:
    """'a CDK4/6 inhibitor with fulvestrant': the regimen with class placeholders as classes."""
    if vocabulary is None:
        return " with ".join(agents)
    names = [agent_name(a, vocabulary) for a in agents]
    return names[0] + (" with " + join_and(names[1:]) if len(names) > 1 else "")


def read_options(result: Evaluation, context: Context) -> list[OptionView]:
    """The options of ``result`` as a person reads them (see the module's docstring)."""
    vocabulary = context.vocabulary
    ranks = [o.rank for o in result.options]
    return [
        OptionView(
            option=option,
            tied=ranks.count(option.rank) > 1,
            name=category_name(option.category),
            drugs=tuple(agent_name(a, vocabulary) for a in option.agents),
            regimens=tuple(regimen_words(r.agents, vocabulary) for r in option.regimens),
            groups=_groups(option, context),
            agreement=agreement_lines(option, context),
            history=history_lines(option, vocabulary),
        )
        for option in result.options
    ]


def not_recommended_lines(result: Evaluation, vocabulary: Vocabulary | None) -> list[str]:
    """'hormone therapy: <reason>' per item; 'not available here: toremifene: <reason>' for
    a drug a local rule marks unavailable; a local rule's item ends with its marker.
    """
    lines = []
    for item in result.not_recommended:
        what = (
            category_name(item.category) if item.category else agent_names(item.agents, vocabulary)
        )
        said = f"{what}: {item.reason}{local_marker(item)}"
        if getattr(item, "kind", "") == "not_available_here":
            said = f"not available here: {said}"
        lines.append(said)
    return lines


def local_marker(item: object) -> str:
    """' [local: local-example-1-trial]' for an option or item that local rules give or
    shape (its ``local_rules``, when the result carries them), else ''.
    """
    local = tuple(getattr(item, "local_rules", ()))
    return f" [local: {', '.join(local)}]" if local else ""


def move_words(move: RankChange) -> str:
    """'moves chemotherapy up (rank 2 to 1): ahead of targeted therapy; level with ...'."""
    name = category_name(move.category)
    ahead = [category_name(c) for c in move.passes]
    behind = [category_name(c) for c in move.passed_by]
    # The same number both times means options were added or removed around it while it
    # changed place among the others (a rank kept by its place is not a move).
    numbers = (
        f"rank {move.rank_now} to {move.rank_then}"
        if move.rank_now != move.rank_then
        else f"still rank {move.rank_now}, with options added or removed"
    )
    said = f"moves {name} {move.direction} ({numbers})"
    details = []
    if ahead:
        details.append(f"past {join_and(ahead)}")
    if behind:
        details.append(f"{join_and(behind)} {'moves' if len(behind) == 1 else 'move'} past it")
    return said + (": " + ", and ".join(details) if details else "")


# Lists a profile may leave unknown as a whole: the question, and its "none" answer in words.
_LISTS = {
    "prior_therapies": ("treatment history (not given)", "no treatment had been given"),
    "complications": ("complications (not given)", "there were no complications"),
}


# The complications an unknown list is tried with, as the profile reference reads them
# ("problems the spread causes").
_COMPLICATION_WORDS = {
    "visceral_crisis": "there were a visceral crisis",
    "symptomatic": "the spread caused symptoms",
}


def informative_test_name(test: InformativeTest, vocabulary: Vocabulary | None = None) -> str:
    """'PIK3CA mutation' for ``pik3ca_status``; 'how capecitabine ended' for a treatment
    whose outcome is unknown.
    """
    if test.agent is not None:
        return f"how {agent_name(test.agent, vocabulary)} ended (not known)"
    if test.status in _LISTS:
        return _LISTS[test.status][0]
    return STATUS_LABELS.get(test.status, test.status.replace("_", " "))


def _value_words(test: InformativeTest, value: str, vocabulary: Vocabulary | None) -> str:
    if test.agent is not None:
        drug = agent_name(test.agent, vocabulary)
        if value == "progressed":
            return f"the cancer grew on {drug}"
        return f"{drug} ended without the cancer growing ({value})"
    if test.status in _LISTS and value == "none":
        return _LISTS[test.status][1]
    if test.status == "complications":
        # A complication tried in turn (whatif.COMPLICATIONS_TRIED), not "none of them".
        return _COMPLICATION_WORDS.get(value, f"the spread caused {value.replace('_', ' ')}")
    return requirement(test.status, "equals", value)


def outcome_changes(
    test: InformativeTest, vocabulary: Vocabulary | None
) -> list[tuple[str, list[str]]]:
    """For each value of a test: the value in words, and what it would add, remove, and
    move up or down (moves up first).
    """
    said = []
    for outcome in test.outcomes:
        changes = []
        added = [category_name(c) for c in outcome.options_appear]
        added += [agent_name(a, vocabulary) for a in outcome.agents_appear]
        removed = [category_name(c) for c in outcome.options_disappear]
        removed += [agent_name(a, vocabulary) for a in outcome.agents_disappear]
        if added:
            changes.append(f"adds {join_and(added)}")
        if removed:
            changes.append(f"removes {join_and(removed)}")
        ordered = sorted(outcome.rank_changes, key=lambda m: (m.direction != "up", m.rank_then))
        changes += [move_words(m) for m in ordered]
        said.append((f"if {_value_words(test, outcome.value, vocabulary)}", changes))
    return said


def outcome_lines(test: InformativeTest, vocabulary: Vocabulary | None) -> list[str]:
    """For each value of a test, one line: what it would add, remove, and move up or down."""
    return [
        f"{value}: {'; '.join(changes)}" for value, changes in outcome_changes(test, vocabulary)
    ]


def _closing_sections(
    result: Evaluation, tests: Sequence[InformativeTest], vocabulary: Vocabulary | None
) -> list[tuple[str, list[str]]]:
    # The text and Markdown reports close with the same sections, in the same order.
    return [
        ("Not recommended", not_recommended_lines(result, vocabulary)),
        ("Advice", [a.text + local_marker(a) for a in result.advice]),
        (
            "Tests that would change the answer",
            [
                f"{informative_test_name(t, vocabulary)}: {line}"
                for t in tests
                for line in outcome_lines(t, vocabulary)
            ],
        ),
        ("Notes", list(result.caveats)),
    ]


def _quote(citation: CitedSource, width: int) -> str:
    return textwrap.shorten(citation.excerpt, width, placeholder=" ...")


def evaluation_text(
    result: Evaluation, tests: Sequence[InformativeTest] = (), context: Context | None = None
) -> str:
    """The answer as the command line prints it: the patient, the ranked table with two
    citations per option, then what is not recommended, the advice, the tests that would
    change the answer (when given) and the notes.
    """
    context = context or Context()
    vocabulary = context.vocabulary
    lines = [textwrap.fill(patient_line(result.profile, vocabulary), 100, subsequent_indent="  ")]
    lines.append("")
    lines += answer_block(result, context)
    lines += ["", "In detail:"]
    views = read_options(result, context)
    if views:
        lines.append(f"{'rank':<5} {'option':<23} {'tier':<12} drugs and regimens")
    for view in views:
        drugs = ", ".join(view.drugs) or "(no single drug named)"
        tier = view.option.tier if view.option.role != "supportive" else "alongside"
        row = f"{view.rank_label:<5} {view.name:<23} {tier:<12} {drugs}"
        lines.append(textwrap.fill(row, 100, subsequent_indent=" " * 43))
        for regimen in view.regimens:
            lines.append(f"{'':<43}+ {regimen}")
        for said in (*view.history, agreement_summary(view.option, context)):
            lines.append(
                textwrap.fill(said, 100, initial_indent=" " * 6, subsequent_indent=" " * 8)
            )
        for citation in view.option.citations[:2]:
            lines.append(f'{"":<6}[{citation.source}] {citation.section}: "{_quote(citation, 80)}"')
    if any(v.tied for v in views):
        lines.append("(= marks options that share a rank)")
    sections = _closing_sections(result, tests, vocabulary)
    for title, items in sections:
        if items:
            lines += ["", f"{title}:"]
            lines += [
                textwrap.fill(i, 98, initial_indent="- ", subsequent_indent="  ") for i in items
            ]
    lines += [
        "",
        result.disclaimer,
        f"Rulebase {result.rulebase_version} (sha256 {result.rulebase_hash[:12]}).",
    ]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    # Table cells and inline text: pipes and line breaks would break the table.
    return " ".join(text.replace("|", "\\|").split())


def evaluation_markdown(
    result: Evaluation, tests: Sequence[InformativeTest] = (), context: Context | None = None
) -> str:
    """One patient's answer as a Markdown page a clinician can paste into a note."""
    context = context or Context()
    vocabulary = context.vocabulary
    who = result.profile.patient_id or "(no id)"
    lines = [f"## Treatment options: patient {_md(who)}", ""]
    lines += [_md(patient_line(result.profile, vocabulary)), ""]
    for line in answer_block(result, context, width=200):
        if line.startswith("  "):
            lines.append(f"- {_md(line)}")
        else:
            lines += ["", f"**{_md(line)}**", ""] if lines[-1] else [f"**{_md(line)}**", ""]
    lines += ["", "---", "", "**In detail**", ""]
    lines += [
        f"- **{label}**: {_md(words)}" for label, words in patient_facts(result.profile, vocabulary)
    ]
    views = read_options(result, context)
    lines += [
        "",
        "| rank | option | tier | drugs and regimens | sources |",
        "| --- | --- | --- | --- | --- |",
    ]
    for view in views:
        drugs = ", ".join([*view.drugs, *view.regimens]) or "(no single drug named)"
        sources = ", ".join(view.option.source_ids)
        lines.append(
            f"| {view.rank_label} | {_md(view.name + local_marker(view.option))} | "
            f"{view.option.tier} | {_md(drugs)} | "
            f"{_md(sources)} |"
        )
    if any(v.tied for v in views):
        lines += ["", "= marks options that share a rank."]
    for view in views:
        kind = view.option.tier if view.option.role != "supportive" else "given alongside"
        local = local_marker(view.option)
        lines += ["", f"### {view.rank_label}. {_md(view.name)} ({kind}){_md(local)}", ""]
        lines += [f"- {_md(r)}" for r in view.option.rationale]
        lines += [f"- {_md(said)}" for said in view.history]
        lines.append(f"- Sources: {_md(agreement_summary(view.option, context))}")
        for group in view.groups:
            lines += ["", f"**{_md(group.label)}** ({group.tier})", ""]
            for citation in group.citations:
                dates = source_dates(context, citation.source)
                where = f"{citation.publisher}, {citation.section}" + (
                    f" ({dates})" if dates else ""
                )
                lines.append(f"> {_md(citation.excerpt)}  \n> -- {_md(where)}")
                lines.append("")
    sections = _closing_sections(result, tests, vocabulary)
    for title, items in sections:
        if items:
            lines += ["", f"### {title}", ""] + [f"- {_md(i)}" for i in items]
    lines += [
        "",
        f"_{_md(result.disclaimer)} Rulebase {result.rulebase_version} "
        f"(sha256 {result.rulebase_hash[:12]})._",
    ]
    return "\n".join(lines) + "\n"
