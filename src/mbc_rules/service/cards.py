"""CDS Hooks cards from an evaluation: a function of the rulebase, the answer and the record.

Every card quotes the sources word for word (the excerpts are never reworded or escaped) and
ends with the library's disclaimer. Cards are plain JSON-ready dicts in the shape of
``cds_hooks_response.schema.json``; optional attributes are left out, never null.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from mbc_rules.evaluation import Evaluation
from mbc_rules.report import answer_block, read_options
from mbc_rules.result import (
    CitedSource,
    InformativeTest,
    NotRecommendedItem,
    TreatmentOption,
)
from mbc_rules.rulebase import Rulebase
from mbc_rules.service.contract import SUMMARY_LIMIT
from mbc_rules.service.hooks import Entry, Resource
from mbc_rules.service.record import Finding, Record, drug_agents
from mbc_rules.vocabulary import Agent
from mbc_rules.wording import (
    CATEGORY_NAMES,
    agent_name,
    card_answer_words,
    card_change_words,
    card_check_the_record,
    card_given_before,
    card_grew_on,
    card_named_at_another_time,
    card_order_not_an_option,
    card_order_option,
    card_order_warning,
    card_remove_order,
    card_rules_words,
    card_supported_as_offered,
    card_test_words,
    category_name,
    situation_words,
)

Card = dict[str, Any]
SERVICE_LABEL = "mbc-rules"

_FIELD_WORDS = {
    "er_status": "ER status",
    "pr_status": "PR status",
    "her2_status": "HER2 status",
    "brca_status": "BRCA status (germline)",
    "pik3ca_status": "PIK3CA status",
    "pdl1_status": "PD-L1 status",
    "menopausal_status": "menopausal status",
    "sex": "sex",
    "brain_metastases": "brain metastases",
    "widespread_bone_metastases": "widespread bone metastases",
    "de_novo": "metastatic at diagnosis (de novo)",
    "good_general_health": "general health",
    "prior_therapies": "treatment history",
    "metastatic_sites": "metastatic sites",
    "complications": "complications of the spread",
}


def words(name: str) -> str:
    """A profile field or category in words: ``her2_status`` -> ``HER2 status``."""
    if name in CATEGORY_NAMES:
        return category_name(name)
    return _FIELD_WORDS.get(name, name.replace("_", " "))


def fit(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` cut at a word to at most ``limit`` characters, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _listing(prefix: str, items: Sequence[str], limit: int = SUMMARY_LIMIT) -> str:
    """``prefix`` and as many ``items`` as fit, then how many more there are."""
    if not items:
        return fit(prefix, limit)
    for shown in range(len(items), 0, -1):
        rest = len(items) - shown
        text = prefix + ": " + ", ".join(items[:shown]) + (f" and {rest} more" if rest else "")
        if len(text) <= limit:
            return text
    return fit(f"{prefix}: {len(items)} agents", limit)


def _name(rulebase: Rulebase, agent_id: str) -> str:
    return agent_name(agent_id, rulebase.vocabulary)


def _quotes(citations: Iterable[CitedSource]) -> list[str]:
    lines: list[str] = []
    for citation in citations:
        # The excerpt stands alone on its line, exactly as the source has it.
        lines += [f"> {citation.excerpt}", "", f"— {citation.publisher}, “{citation.section}”", ""]
    return lines


def _source(citations: Sequence[CitedSource], fallback: str = SERVICE_LABEL) -> dict[str, Any]:
    return {"label": citations[0].publisher if citations else fallback}


def _card(summary: str, detail: Sequence[str], indicator: str, source: dict[str, Any]) -> Card:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": fit(summary),
        "detail": "\n".join(detail).strip() + "\n",
        "indicator": indicator,
        "source": source,
    }


def _disclaimer(evaluation: Evaluation) -> list[str]:
    # Which rules answered (a local layer shows in the version, and the hash covers it).
    rules = card_rules_words(evaluation.rulebase_version, evaluation.rulebase_hash)
    return ["---", f"*{evaluation.disclaimer}*", "", rules]


def _findings(title: str, findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return []
    lines = [f"**{title}**", ""]
    for finding in findings:
        where = f" ({', '.join(finding.resources)})" if finding.resources else ""
        about = f"{words(finding.field)}: " if finding.field else ""
        lines.append(f"- {about}{finding.message}{where}")
    return [*lines, ""]


def unknowns(evaluation: Evaluation) -> list[str]:
    """The profile's fields that the record leaves unknown, in words."""
    profile = evaluation.profile
    found = []
    for name in type(profile).model_fields:
        if name in ("patient_id", "resectable_sites"):
            continue
        if name == "menopausal_status" and profile.sex == "male":
            continue
        if name == "brain_metastases" and "brain" not in profile.metastatic_sites:
            continue
        value = getattr(profile, name)
        if value is None or value == "unknown" or (name == "metastatic_sites" and not value):
            found.append(words(name))
    return found


def _about_record(evaluation: Evaluation, record: Record) -> list[str]:
    lines = _findings("The record disagrees with itself on", record.conflicts)
    missing = unknowns(evaluation)
    if missing:
        lines += ["**Not known from the record:** " + ", ".join(missing), ""]
    return lines


def _publisher(rulebase: Rulebase, source: str) -> str:
    return rulebase.sources[source].publisher if source in rulebase.sources else source


def _agreement(rulebase: Rulebase, option: TreatmentOption) -> list[str]:
    """Which sources support the option as offered, and which name it only at another time."""
    agreement = getattr(option, "agreement", None)
    if agreement is None:
        return []
    supporting = [_publisher(rulebase, s) for s in getattr(agreement, "supporting", ())]
    lines = ["**Source agreement:** " + card_supported_as_offered(supporting), ""]
    for other in getattr(agreement, "conditions_not_met", ()):
        named = [_name(rulebase, a) for a in other.agents]
        said = card_named_at_another_time(other.publisher, named, situation_words(other))
        lines += [f"- {said}", ""]
        lines += _quotes(other.citations)
    return lines


def _option_notes(rulebase: Rulebase, option: TreatmentOption) -> list[str]:
    lines: list[str] = []
    given = getattr(option, "given_before", ())
    if given:
        said = card_given_before([(_name(rulebase, g.agent), g.outcome, g.setting) for g in given])
        lines += [f"**Already in the history (not grown on):** {said}", ""]
    for note in getattr(option, "notes", ()):
        lines += [f"**Note:** {note.text}", "", *_quotes(note.citations)]
    return lines


def answer_card(evaluation: Evaluation) -> Card | None:
    """The answer on one screen, as every view opens with it: the choices in order, what is
    given alongside, what is not recommended (``report.answer_block``); None when nothing is
    offered or held back.
    """
    if not evaluation.options and not evaluation.not_recommended:
        return None
    views = read_options(evaluation)
    choices = [f"{v.rank_label} {v.name}" for v in views if v.option.role != "supportive"]
    alongside = [v.name for v in views if v.option.role == "supportive"]
    summary = "Choices: " + (", ".join(choices) or "none")
    if alongside:
        summary += "; alongside: " + ", ".join(alongside)
    detail = []
    for line in answer_block(evaluation, width=200):
        detail.append(f"- {line.strip()}" if line.startswith("  ") else f"\n**{line}**\n")
    return _card(summary, [*detail, "", *_disclaimer(evaluation)], "info", _source(()))


def _choice_numbers(evaluation: Evaluation) -> dict[int, int]:
    # The place of each anticancer choice among the choices (the views' numbers), by rank.
    ranks = sorted({o.rank for o in evaluation.options if o.role != "supportive"})
    return {rank: place for place, rank in enumerate(ranks, start=1)}


def option_card(
    rulebase: Rulebase, evaluation: Evaluation, option: TreatmentOption, record: Record
) -> Card:
    """One card for one ranked option: what, how strongly, why, and the sources' words."""
    agents = [_name(rulebase, a) for a in option.agents]
    category = words(option.category)
    kind = f"{option.tier}, local" if option.local_rules else option.tier
    publishers = [_publisher(rulebase, s) for s in option.source_ids]
    numbers = _choice_numbers(evaluation)
    if option.role == "supportive":
        # Care given alongside the choices says so: "#4" alone read as a fourth choice.
        summary = _listing(f"Alongside: {category.capitalize()} ({kind})", agents)
        heading = f"**Given alongside the choices: {category}, {option.tier}**"
    else:
        place = numbers[option.rank]
        summary = _listing(f"#{place} {category.capitalize()} ({kind})", agents)
        heading = (
            f"**Choice {place} of {len(set(numbers.values()))}: {category}, {option.tier}** "
            "(choices that tie share a number)"
        )
    detail = [heading, ""]
    if agents:
        detail += [f"**Drugs and procedures:** {', '.join(agents)}", ""]
    if option.regimens:
        detail += [f"**Regimens:** {'; '.join(r.name for r in option.regimens)}", ""]
    detail += ["**Why**", "", *[f"- {line}" for line in option.rationale], ""]
    if option.local_rules:
        detail += [f"**From local rules:** {', '.join(option.local_rules)}", ""]
    detail += _option_notes(rulebase, option)
    detail += _agreement(rulebase, option)
    detail += [
        f"**Sources ({len(publishers)} of {len(rulebase.sources)}):** {', '.join(publishers)}",
        "",
        "**What the sources say**",
        "",
        *_quotes(option.citations),
    ]
    detail += _about_record(evaluation, record)
    return _card(summary, [*detail, *_disclaimer(evaluation)], "info", _source(option.citations))


def _refused(rulebase: Rulebase, item: NotRecommendedItem) -> str:
    named = [words(item.category)] if item.category else []
    return ", ".join([*named, *(_name(rulebase, a) for a in item.agents)])


def _refused_heading(rulebase: Rulebase, item: NotRecommendedItem) -> str:
    # A drug not available here is its own kind of statement, said as such.
    if item.kind == "not_available_here":
        return f"not available here: {_refused(rulebase, item)}"
    return _refused(rulebase, item)


def not_recommended_card(rulebase: Rulebase, evaluation: Evaluation) -> Card | None:
    """One card listing what the sources advise against for this record, with their words."""
    items = evaluation.not_recommended
    if not items:
        return None
    summary = _listing(
        "Not recommended for this record", [_refused_heading(rulebase, i) for i in items]
    )
    detail: list[str] = []
    for item in items:
        heading = "Not available here" if item.kind == "not_available_here" else "Not recommended"
        detail += [f"**{heading}: {_refused(rulebase, item)}**", "", item.reason, ""]
        if item.local_rules:
            detail += [f"**From local rules:** {', '.join(item.local_rules)}", ""]
        detail += _quotes(item.citations)
    citations = [c for i in items for c in i.citations]
    return _card(summary, [*detail, *_disclaimer(evaluation)], "info", _source(citations))


def _test_lines(rulebase: Rulebase, test: InformativeTest) -> list[str]:
    lines = []
    for outcome in test.outcomes:
        changes = card_change_words(
            [words(c) for c in outcome.options_appear],
            [words(c) for c in outcome.options_disappear],
            [(words(c.category), c.rank_now, c.rank_then) for c in outcome.rank_changes],
            [_name(rulebase, a) for a in outcome.agents_appear],
            [_name(rulebase, a) for a in outcome.agents_disappear],
        )
        lines.append(
            f"- {_tested(rulebase, test)} {_value(test, outcome.value)}: {'; '.join(changes)}"
        )
    return lines


def _tested(rulebase: Rulebase, test: InformativeTest) -> str:
    """What an informative test asks: a status, or how a treatment given ended."""
    agent = getattr(test, "agent", None)
    if agent and test.status != "prior_therapies":  # an omitted history tried with a drug
        return card_test_words(words(test.status), _name(rulebase, agent))
    return card_test_words(words(test.status), None)


def _value(test: InformativeTest, value: str) -> str:
    return card_answer_words(value, of_a_treatment=bool(getattr(test, "agent", None)))


def record_warning_card(
    rulebase: Rulebase,
    evaluation: Evaluation,
    record: Record,
    tests: Sequence[InformativeTest],
    missing_keys: Sequence[str] = (),
) -> Card | None:
    """A warning when the record conflicts, or lacks what the answer depends on.

    Lists the conflicts and warnings of the reading with the resources concerned, the unknown
    statuses whose result would change the answer (and how), the data the EHR did not send,
    and the reach of the answer (caveats).
    """
    if not (
        record.conflicts
        or record.warnings
        or record.left_out
        or tests
        or missing_keys
        or evaluation.caveats
    ):
        return None
    if record.out_of_scope:
        return _out_of_scope_card(evaluation, record)
    summary = card_check_the_record(
        left_out=bool(record.left_out),
        conflicting=(
            sorted({words(c.field) for c in record.conflicts if c.field})
            if record.conflicts
            else None
        ),
        tests=[_tested(rulebase, t) for t in tests],
        missing=missing_keys,
        warnings=len(record.warnings),
        caveats=bool(evaluation.caveats),
    )
    detail = _findings("Another patient's data, left out", record.left_out)
    detail += _findings("Conflicts in the record (left unknown, not settled)", record.conflicts)
    detail += _findings("Reading the record", record.warnings)
    if missing_keys:
        detail += [
            "**Not sent by the EHR:** " + ", ".join(missing_keys) + " (the treatment history "
            "is unknown: the answer may offer what was already given)",
            "",
        ]
    if tests:
        detail += ["**Tests that would change the answer**", ""]
        for test in tests:
            detail += _test_lines(rulebase, test)
        cited = next((t.citations for t in tests if t.citations), ())
        detail += ["", *_quotes(cited)]
    for caveat in evaluation.caveats:
        detail += [f"**Note:** {caveat}", ""]
    return _card(summary, [*detail, *_disclaimer(evaluation)], "warning", {"label": SERVICE_LABEL})


def _out_of_scope_card(evaluation: Evaluation, record: Record) -> Card:
    detail = [
        "The rules cover metastatic (stage IV) breast cancer only, and this record does not "
        "establish it, so no treatment option is shown:",
        "",
        *[
            f"- {f.message}" + (f" ({', '.join(f.resources)})" if f.resources else "")
            for f in record.out_of_scope
        ],
        "",
    ]
    others = [w for w in record.warnings if w not in record.out_of_scope]
    detail += _findings("Another patient's data, left out", record.left_out)
    detail += _findings("Conflicts in the record", record.conflicts)
    detail += _findings("Reading the record", others)
    return _card(
        "Not metastatic breast cancer by this record: no treatment options shown",
        [*detail, *_disclaimer(evaluation)],
        "warning",
        {"label": SERVICE_LABEL},
    )


def unsafe_card(evaluation: Evaluation, record: Record) -> Card:
    """Why no option is shown when the prefetch may be another patient's record."""
    detail = [
        "The data sent with this request is not safely this patient's, so nothing was read "
        "and no treatment option is shown:",
        "",
        *[
            f"- {f.message}" + (f" ({', '.join(f.resources)})" if f.resources else "")
            for f in record.unsafe
        ],
        "",
    ]
    detail += _findings("Another patient's data", record.left_out)
    return _card(
        "Another patient's data in this request: no treatment options shown",
        [*detail, *_disclaimer(evaluation)],
        "warning",
        {"label": SERVICE_LABEL},
    )


def left_out_card(evaluation: Evaluation, record: Record) -> Card:
    """That resources of another patient were left out (for hooks that show no record card)."""
    return _card(
        "Resources of another patient were left out of this answer",
        [*_findings("Another patient's data, left out", record.left_out), *_disclaimer(evaluation)],
        "warning",
        {"label": SERVICE_LABEL},
    )


def patient_view_cards(
    rulebase: Rulebase,
    evaluation: Evaluation,
    record: Record,
    *,
    missing_keys: Sequence[str] = (),
) -> list[Card]:
    """The cards of ``patient-view``: the warning first (when any), the options, what not to use."""
    if record.unsafe:
        return [unsafe_card(evaluation, record)]
    if record.out_of_scope:
        return [_out_of_scope_card(evaluation, record)]
    tests = rulebase.informative_tests(evaluation)
    cards: list[Card] = []
    warning = record_warning_card(rulebase, evaluation, record, tests, missing_keys)
    if warning is not None:
        cards.append(warning)
    answer = answer_card(evaluation)
    if answer is not None:
        cards.append(answer)
    cards += [option_card(rulebase, evaluation, o, record) for o in evaluation.options]
    refused = not_recommended_card(rulebase, evaluation)
    if refused is not None:
        cards.append(refused)
    return cards


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _medication_concept(order: Resource, entries: Sequence[Entry]) -> Any:
    if "medicationCodeableConcept" in order:
        return order["medicationCodeableConcept"]
    # FHIR R5 / later R4 servers: medication.concept or medication.reference.
    medication = order.get("medication")
    if isinstance(medication, dict) and "concept" in medication:
        return medication["concept"]
    reference = order.get("medicationReference") or (
        medication.get("reference") if isinstance(medication, dict) else None
    )
    target = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(target, str):
        return None
    candidates: list[Any] = []
    if target.startswith("#"):
        contained = order.get("contained")
        candidates = contained if isinstance(contained, list) else []
        wanted = target[1:]
    else:
        candidates = [e.resource for e in entries]
        wanted = target.rsplit("/", 1)[-1]
    for resource in candidates:
        if (
            isinstance(resource, dict)
            and resource.get("resourceType") == "Medication"
            and resource.get("id") == wanted
        ):
            return resource.get("code")
    return None


def ordered_agents(
    rulebase: Rulebase, order: Resource, entries: Sequence[Entry] = ()
) -> tuple[Agent, ...]:
    """The drugs a draft order names (by RxNorm code, else by name); () when none is known."""
    if order.get("resourceType") != "MedicationRequest":
        return ()
    concept = _medication_concept(order, entries)
    codes = [
        (str(c.get("system")), c["code"])
        for c in _codings(concept)
        if isinstance(c.get("code"), str)
    ]
    names = [c["display"] for c in _codings(concept) if isinstance(c.get("display"), str)]
    if isinstance(concept, dict) and isinstance(concept.get("text"), str):
        names.insert(0, concept["text"])
    found = drug_agents(codes, names, rulebase.vocabulary)
    return tuple(rulebase.vocabulary[a] for a in found if a in rulebase.vocabulary)


def _rules_naming(rulebase: Rulebase, rule_ids: Iterable[str], agent: str) -> list[str]:
    named = []
    for rule_id in rule_ids:
        offer = rulebase.rule(rule_id).then.offer
        if offer is None:
            continue
        if agent in offer.agents or any(agent in r.agents for r in offer.regimens):
            named.append(rule_id)
    return named


def _citations_of(rulebase: Rulebase, rule_ids: Iterable[str]) -> list[CitedSource]:
    seen: dict[tuple[str, str], CitedSource] = {}
    for rule_id in rule_ids:
        for citation in rulebase.rule(rule_id).citations:
            publisher = rulebase.sources[citation.source].publisher
            seen.setdefault(
                (citation.source, citation.excerpt),
                CitedSource(
                    source=citation.source,
                    publisher=publisher,
                    section=citation.section,
                    excerpt=citation.excerpt,
                    statement=citation.statement,
                ),
            )
    return list(seen.values())


def _option_of(evaluation: Evaluation, agent: str) -> TreatmentOption | None:
    for option in evaluation.options:
        if agent in option.agents or any(agent in r.agents for r in option.regimens):
            return option
    return None


def _named_by_rules(rulebase: Rulebase, agent: Agent) -> bool:
    for rule in rulebase.rules:
        then = rule.then
        if then.offer is not None and (
            agent.id in then.offer.agents or any(agent.id in r.agents for r in then.offer.regimens)
        ):
            return True
        if then.not_recommended is not None and (
            agent.id in then.not_recommended.agents
            or then.not_recommended.category == agent.category
        ):
            return True
    return False


def order_card(
    rulebase: Rulebase, evaluation: Evaluation, order: Resource, agent: Agent
) -> Card | None:
    """The card for one drug ordered: a warning, the option it belongs to, or None (silence)."""
    name = agent.name
    refusals = [
        item
        for item in evaluation.not_recommended
        if agent.id in item.agents or item.category == agent.category
    ]
    grown = [
        t
        for t in evaluation.profile.prior_therapies or ()
        if t.agent == agent.id and t.outcome == "progressed"
    ]
    if refusals or grown:
        detail: list[str] = []
        for therapy in grown:
            heading, said = card_grew_on(name, therapy.setting, therapy.line)
            detail += [f"**{heading}**: {said}", ""]
        for item in refusals:
            detail += [f"**Not recommended: {_refused(rulebase, item)}**", "", item.reason, ""]
            detail += _quotes(item.citations)
        card = _card(
            card_order_warning(name, bool(refusals), bool(grown)),
            [*detail, *_disclaimer(evaluation)],
            "warning",
            _source([c for i in refusals for c in i.citations]),
        )
        order_id = order.get("id")
        if isinstance(order_id, str):
            remove = card_remove_order(name)
            card["suggestions"] = [
                {
                    "label": remove,
                    "uuid": str(uuid.uuid4()),
                    "actions": [
                        {
                            "type": "delete",
                            "description": remove,
                            "resourceId": f"MedicationRequest/{order_id}",
                        }
                    ],
                }
            ]
            card["selectionBehavior"] = "at-most-one"
        return card
    option = _option_of(evaluation, agent.id)
    if option is not None:
        named = _rules_naming(rulebase, option.rule_ids, agent.id)
        citations = _citations_of(rulebase, named) or list(option.citations)
        said, summary = card_order_option(name, option.rank, words(option.category), option.tier)
        detail = [
            said,
            "",
            "**What the sources say**",
            "",
            *_quotes(citations),
        ]
        return _card(
            summary,
            [*detail, *_disclaimer(evaluation)],
            "info",
            _source(citations),
        )
    if not _named_by_rules(rulebase, agent):
        return None  # the sources say nothing about this drug: no card rather than a guess
    explanation = rulebase.explain(evaluation, agent.id)
    said, summary = card_order_not_an_option(name)
    detail = [
        said,
        "",
        "```",
        str(getattr(explanation, "text", explanation)),
        "```",
        "",
    ]
    return _card(
        summary,
        [*detail, *_disclaimer(evaluation)],
        "info",
        {"label": SERVICE_LABEL},
    )


def order_select_cards(
    rulebase: Rulebase,
    evaluation: Evaluation,
    record: Record,
    orders: Sequence[Entry],
    entries: Sequence[Entry] = (),
) -> list[Card]:
    """The cards of ``order-select``: one per selected drug the sources speak of.

    None for a record that is not metastatic breast cancer: the rules do not speak of it.
    """
    if record.unsafe:
        return [unsafe_card(evaluation, record)]
    if record.out_of_scope:
        return []
    # Never silence: that another patient's data was left out is said even beside the orders.
    cards = [left_out_card(evaluation, record)] if record.left_out else []
    for order in orders:
        for agent in ordered_agents(rulebase, order.resource, [*orders, *entries]):
            card = order_card(rulebase, evaluation, order.resource, agent)
            if card is not None:
                cards.append(card)
    return cards
