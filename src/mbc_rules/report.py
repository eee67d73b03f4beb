"""Reports of one answer for a person: the text table of the command line and a Markdown page.

Both, and the notebook view (``display``), are built from the same reading of a result
(:func:`read_options`): readable names, ranks with ties marked, the rationale, and the
citations grouped by the drug or regimen they support, strongest first, with the dates the
sources give. They are functions of the result alone: it carries the readable names of what it
names and of the rulebase's sources (``EvaluationValues.names``) and each option's citation groups,
so a result read back from JSON shows the same, with no rulebase behind it. The tests that
would change the answer are shown when the result carries them (an ``EvaluationReport``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mbc_rules.result import (
    CitedSource,
    EvaluationValues,
    InformativeTest,
    Names,
    RankChange,
    RegimenOption,
    TreatmentOption,
)
from mbc_rules.vocabulary import TIERS
from mbc_rules.wording import (
    TESTS_NOT_ASKED,
    answer_words,
    category_name,
    change_words,
    given_before_line,
    if_words,
    in_general,
    informative_test_words,
    join_and,
    named_at_another_time,
    not_recommended_line,
    outcome_unknown_line,
    patient_facts,
    patient_line,
    rank_move_words,
    regimen_of,
    rulebase_words,
    situation_words,
    sources_naming_when,
    sources_supporting,
    supported_as_offered,
)

ReportFormat = Literal["text", "markdown"]

__all__ = ["TESTS_NOT_ASKED", "ReportFormat"]  # TESTS_NOT_ASKED: worded in mbc_rules.wording


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
    # The option's place among the anticancer choices (care given alongside has none): the
    # views number the choices 1, 2, 3 while ``rank`` orders every option together.
    choice: int | None = None

    @property
    def rank_label(self) -> str:
        """'2' or, when another option shares the place, '2='; '+' for care alongside."""
        if self.option.role == "supportive":
            return "+"
        number = self.choice if self.choice is not None else self.option.rank
        return f"{number}=" if self.tied else str(number)


def tests_of(result: EvaluationValues) -> tuple[InformativeTest, ...] | None:
    """The informative tests the result carries; None when they were not asked for."""
    tests: tuple[InformativeTest, ...] | None = getattr(result, "informative_tests", None)
    return tests


def source_dates(names: Names, source_id: str) -> str:
    """'last medical review 2019-09-18, last revised 2019-12-23', or '' when none is given."""
    source = names.source(source_id)
    return ", ".join(source.dates) if source is not None else ""


def agreement_lines(option: TreatmentOption, names: Names) -> tuple[str, ...]:
    """How the sources agree on the option: which support it as offered, and which name it
    only at another time, and when.
    """
    agreement = option.agreement

    def publisher(source: str) -> str:
        known = names.source(source)
        return known.publisher if known is not None else source

    lines = [supported_as_offered([publisher(s) for s in agreement.supporting])]
    for other in agreement.conditions_not_met:
        lines.append(
            named_at_another_time(
                other.publisher or publisher(other.source),
                [names.agent(a) for a in other.agents],
                situation_words(other),
            )
        )
    return tuple(lines)


def _short(names: Names, source_id: str) -> str:
    known = names.source(source_id)
    return known.short_name if known is not None else source_id


def agreement_summary(option: TreatmentOption, names: Names) -> str:
    """How the sources agree, in one line: '4 of 5 sources support it as offered; ACS, WebMD
    name tamoxifen when no line of treatment for metastatic disease has failed yet (not the
    case here)'.

    The conditions not met are grouped by the situation and the drugs, so what several sources
    name for the same situation is said once (it was a line per source and statement), and a
    source is never said to name a drug another source names ("ACS, PDQ name olaparib ...;
    WebMD names sacituzumab govitecan ..." for the same situation).
    """
    agreement = option.agreement
    said = sources_supporting(len(agreement.supporting), len(names.sources))
    by_source: dict[tuple[str, str], list[str]] = {}
    for other in agreement.conditions_not_met:
        when = situation_words(other)
        theirs = by_source.setdefault((when, _short(names, other.source)), [])
        theirs += [a for a in other.agents if a not in theirs]
    situations: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (when, short), theirs in by_source.items():
        situations.setdefault((when, tuple(theirs)), []).append(short)
    parts = [said]
    for (when, agents), sources in situations.items():
        parts.append(sources_naming_when(sources, [names.agent(a) for a in agents], when))
    return "; ".join(parts)


def _one_line(text: str, width: int, indent: str = "") -> str:
    # One line whatever the length: the detail below says the rest.
    return indent + textwrap.shorten(text, width - len(indent), placeholder=" ...")


def answer_block(result: EvaluationValues, width: int = 100) -> list[str]:
    """The answer on one screen, each item one line: the anticancer choices in order with
    their drugs and tier, what is given alongside, and what is not recommended and why.
    Every view opens with it (after the patient); the detail follows.
    """
    views = read_options(result)
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
    refused = not_recommended_lines(result)
    if refused:
        lines.append("Not recommended:")
        lines += [_one_line(line, width, "  ") for line in refused]
    return lines


def history_lines(option: TreatmentOption, names: Names) -> tuple[str, ...]:
    """What of the option the patient has had already, and the sources' notes on it.

    A drug whose outcome is not known is said so: it is offered because no growth on it is
    recorded, not because it is known to have worked.
    """
    lines = []

    ended = [g for g in option.given_before if g.outcome != "unknown"]
    unknown = [g for g in option.given_before if g.outcome == "unknown"]
    if ended:
        lines.append(
            given_before_line([(names.agent(g.agent), g.outcome, g.setting) for g in ended])
        )
    if unknown:
        lines.append(outcome_unknown_line([(names.agent(g.agent), g.setting) for g in unknown]))
    lines += [note.text for note in option.notes]
    return tuple(lines)


def _groups(option: TreatmentOption, names: Names) -> tuple[CitationGroup, ...]:
    if not option.citation_groups:
        # A result made before options carried their groups: every citation under one head.
        return (CitationGroup(category_name(option.category), option.tier, option.citations),)
    groups = []
    for group in option.citation_groups:
        named = [names.agent(a) for a in group.agents]
        named += [regimen_words(r, names, option.regimens) for r in group.regimens]
        label = join_and(named) if named else in_general(category_name(option.category))
        cited = tuple(option.citations[i] for i in group.citations if i < len(option.citations))
        groups.append(CitationGroup(label, group.tier, cited))
    return tuple(groups)


def regimen_words(
    agents: Sequence[str], names: Names, regimens: Sequence[RegimenOption] = ()
) -> str:
    """'a CDK4/6 inhibitor with fulvestrant': the regimen with class placeholders as classes.

    The words are the result's own (``RegimenOption.name``, made with the vocabulary:
    'trastuzumab with another HER2-targeted drug') when ``regimens`` has them; otherwise each
    agent's name.
    """
    for regimen in regimens:
        if tuple(regimen.agents) == tuple(agents) and regimen.name:
            return regimen.name
    return regimen_of([names.agent(a) for a in agents])


def _drug_words(option: TreatmentOption, names: Names) -> tuple[str, ...]:
    # A drug whose every sentence gives a weaker tier than the option's says so ("sacituzumab
    # govitecan (situational)" within a targeted therapy option): the option's tier is its
    # strongest drug's.
    best: dict[str, int] = {}
    for group in option.citation_groups:
        for agent in group.agents:
            best[agent] = min(best.get(agent, len(TIERS)), TIERS.index(group.tier))
    strongest = TIERS.index(option.tier)
    return tuple(
        names.agent(a) + (f" ({TIERS[best[a]]})" if best.get(a, strongest) > strongest else "")
        for a in option.agents
    )


def read_options(result: EvaluationValues) -> list[OptionView]:
    """The options of ``result`` as a person reads them (see the module's docstring)."""
    names = result.names
    choices = sorted({o.rank for o in result.options if o.role != "supportive"})
    place = {rank: index + 1 for index, rank in enumerate(choices)}
    ranks = [o.rank for o in result.options if o.role != "supportive"]
    return [
        OptionView(
            option=option,
            tied=option.role != "supportive" and ranks.count(option.rank) > 1,
            name=category_name(option.category),
            drugs=_drug_words(option, names),
            regimens=tuple(
                regimen_words(r.agents, names, option.regimens) for r in option.regimens
            ),
            groups=_groups(option, names),
            agreement=agreement_lines(option, names),
            history=history_lines(option, names),
            choice=place.get(option.rank) if option.role != "supportive" else None,
        )
        for option in result.options
    ]


def not_recommended_lines(result: EvaluationValues) -> list[str]:
    """'hormone therapy: <reason>' per item; 'not available here: toremifene: <reason>' for
    a drug a local rule marks unavailable; a local rule's item ends with its marker.
    """
    lines = []
    for item in result.not_recommended:
        what = (
            category_name(item.category)
            if item.category
            else join_and([result.names.agent(a) for a in item.agents])
        )
        unavailable = getattr(item, "kind", "") == "not_available_here"
        lines.append(not_recommended_line(what, item.reason, local_marker(item), unavailable))
    return lines


def local_marker(item: object) -> str:
    """' [local: local-example-1-trial]' for an option or item that local rules give or
    shape (its ``local_rules``, when the result carries them), else ''.
    """
    local = tuple(getattr(item, "local_rules", ()))
    return f" [local: {', '.join(local)}]" if local else ""


def move_words(move: RankChange) -> str:
    """'moves chemotherapy up (rank 2 to 1): ahead of targeted therapy; level with ...'."""
    return rank_move_words(
        category_name(move.category),
        move.direction,
        move.rank_now,
        move.rank_then,
        [category_name(c) for c in move.passes],
        [category_name(c) for c in move.passed_by],
    )


def informative_test_name(test: InformativeTest, names: Names) -> str:
    """'PIK3CA mutation' for ``pik3ca_status``; 'how capecitabine ended' for a treatment
    whose outcome is unknown.
    """
    return informative_test_words(
        test.status, names.agent(test.agent) if test.agent is not None else None
    )


def _value_words(test: InformativeTest, value: str, names: Names) -> str:
    drug = names.agent(test.agent) if test.agent is not None else None
    return answer_words(test.status, drug, value)


def _once(categories: list[str], agents: list[str]) -> list[str]:
    # A category and its own placeholder drug read alike ("chemotherapy"): said once.
    return [*categories, *(a for a in agents if a not in categories)]


def outcome_changes(test: InformativeTest, names: Names) -> list[tuple[str, list[str]]]:
    """For each value of a test: the value in words, and what it would add, remove, and
    move up or down (moves up first).
    """
    said = []
    for outcome in test.outcomes:
        names = names.with_agents(outcome.names)
        added = _once(
            [category_name(c) for c in outcome.options_appear],
            [names.agent(a) for a in outcome.agents_appear],
        )
        removed = _once(
            [category_name(c) for c in outcome.options_disappear],
            [names.agent(a) for a in outcome.agents_disappear],
        )
        changes = change_words(added, removed)
        ordered = sorted(outcome.rank_changes, key=lambda m: (m.direction != "up", m.rank_then))
        changes += [move_words(m) for m in ordered]
        said.append((if_words(_value_words(test, outcome.value, names)), changes))
    return said


def outcome_lines(test: InformativeTest, names: Names) -> list[str]:
    """For each value of a test, one line: what it would add, remove, and move up or down."""
    return [f"{value}: {'; '.join(changes)}" for value, changes in outcome_changes(test, names)]


def _closing_sections(result: EvaluationValues) -> list[tuple[str, list[str]]]:
    # The text and Markdown reports close with the same sections, in the same order.
    names = result.names
    tests = tests_of(result)
    return [
        ("Not recommended", not_recommended_lines(result)),
        ("Advice", [a.text + local_marker(a) for a in result.advice]),
        (
            "Tests that would change the answer",
            [TESTS_NOT_ASKED]
            if tests is None
            else [
                f"{informative_test_name(t, names)}: {line}"
                for t in tests
                for line in outcome_lines(t, names)
            ],
        ),
        ("Notes", list(result.caveats)),
    ]


def _quote(citation: CitedSource, width: int) -> str:
    return textwrap.shorten(citation.excerpt, width, placeholder=" ...")


def evaluation_text(result: EvaluationValues) -> str:
    """The answer as the command line prints it (and ``str(result)``): the patient, the
    answer on one screen, then the detail: each option with two citations, what is not
    recommended, the advice, the tests that would change the answer and the notes.
    """
    names = result.names
    lines = [textwrap.fill(patient_line(result.profile, names), 100, subsequent_indent="  ")]
    lines.append("")
    lines += answer_block(result)
    lines += ["", "In detail:"]
    views = read_options(result)
    if views:
        lines.append(f"{'rank':<5} {'option':<23} {'tier':<12} drugs and regimens")
    for view in views:
        drugs = ", ".join(view.drugs) or "(no single drug named)"
        tier = view.option.tier if view.option.role != "supportive" else "alongside"
        row = f"{view.rank_label:<5} {view.name:<23} {tier:<12} {drugs}"
        lines.append(textwrap.fill(row, 100, subsequent_indent=" " * 43))
        for regimen in view.regimens:
            lines.append(f"{'':<43}+ {regimen}")
        for said in (*view.history, agreement_summary(view.option, names)):
            lines.append(
                textwrap.fill(said, 100, initial_indent=" " * 6, subsequent_indent=" " * 8)
            )
        for citation in view.option.citations[:2]:
            lines.append(f'{"":<6}[{citation.source}] {citation.section}: "{_quote(citation, 80)}"')
    if any(v.tied for v in views):
        lines.append("(= marks choices that share a place)")
    if any(v.option.role == "supportive" for v in views):
        lines.append("(+ marks care given alongside the choices)")
    for title, items in _closing_sections(result):
        if items:
            lines += ["", f"{title}:"]
            lines += [
                textwrap.fill(i, 98, initial_indent="- ", subsequent_indent="  ") for i in items
            ]
    lines += [
        "",
        result.disclaimer,
        rulebase_words(result.rulebase_version, result.rulebase_hash) + ".",
    ]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    # Table cells and inline text: pipes and line breaks would break the table.
    return " ".join(text.replace("|", "\\|").split())


def evaluation_markdown(result: EvaluationValues) -> str:
    """One patient's answer as a Markdown page a clinician can paste into a note
    (``result.to_markdown()``).
    """
    names = result.names
    who = result.profile.patient_id or "(no id)"
    lines = [f"## Treatment options: patient {_md(who)}", ""]
    lines += [_md(patient_line(result.profile, names)), ""]
    for line in answer_block(result, width=200):
        if line.startswith("  "):
            lines.append(f"- {_md(line)}")
        else:
            lines += ["", f"**{_md(line)}**", ""] if lines[-1] else [f"**{_md(line)}**", ""]
    lines += ["", "---", "", "**In detail**", ""]
    lines += [
        f"- **{label}**: {_md(words)}" for label, words in patient_facts(result.profile, names)
    ]
    views = read_options(result)
    lines += [
        "",
        "| rank | option | tier | drugs and regimens | sources |",
        "| --- | --- | --- | --- | --- |",
    ]
    for view in views:
        drugs = ", ".join([*view.drugs, *view.regimens]) or "(no single drug named)"
        sources = ", ".join(_short(names, s) for s in view.option.source_ids)
        tier = view.option.tier if view.option.role != "supportive" else "alongside"
        lines.append(
            f"| {view.rank_label} | {_md(view.name + local_marker(view.option))} | {tier} | "
            f"{_md(drugs)} | {_md(sources)} |"
        )
    if any(v.tied for v in views):
        lines += ["", "= marks choices that share a place."]
    if any(v.option.role == "supportive" for v in views):
        lines += ["", "+ marks care given alongside the choices."]
    for view in views:
        local = local_marker(view.option)
        heading = (
            f"{view.rank_label}. {_md(view.name)} ({view.option.tier})"
            if view.option.role != "supportive"
            else f"{_md(view.name)} (given alongside, {view.option.tier})"
        )
        lines += ["", f"### {heading}{_md(local)}", ""]
        lines += [f"- {_md(r)}" for r in view.option.rationale]
        lines += [f"- {_md(said)}" for said in view.history]
        lines.append(f"- Sources: {_md(agreement_summary(view.option, names))}")
        for group in view.groups:
            lines += ["", f"**{_md(group.label)}** ({group.tier})", ""]
            for citation in group.citations:
                dates = source_dates(names, citation.source)
                where = f"{citation.publisher}, {citation.section}" + (
                    f" ({dates})" if dates else ""
                )
                lines.append(f"> {_md(citation.excerpt)}  \n> -- {_md(where)}")
                lines.append("")
    for title, items in _closing_sections(result):
        if items:
            lines += ["", f"### {title}", ""] + [f"- {_md(i)}" for i in items]
    lines += [
        "",
        f"_{_md(result.disclaimer)} "
        f"{rulebase_words(result.rulebase_version, result.rulebase_hash)}._",
    ]
    return "\n".join(lines) + "\n"
