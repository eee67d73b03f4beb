"""Cards from evaluations, without HTTP: the response schema, the summary limit, excerpts word for
word, the disclaimer, the warning card, and what order-select says about one drug."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from mbc_rules import Rulebase
from mbc_rules.evaluation import Evaluation
from mbc_rules.result import TreatmentOption
from mbc_rules.service.cards import (
    order_card,
    order_select_cards,
    ordered_agents,
    patient_view_cards,
    record_warning_card,
    words,
)
from mbc_rules.service.hooks import Entry
from mbc_rules.service.record import Finding, Record
from mbc_rules.wording import agent_name, category_name
from tests.cases import LATER_LINE
from tests.servicekit import RESPONSE_VALIDATOR, SOURCES, medication_request
from tests.strategies import profiles

HR_POSITIVE = {
    "sex": "female",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
}
TRIPLE_NEGATIVE = {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
# The summaries of option cards: a choice by its number, care given alongside by that word.
OPTION_CARD = ("#", "Alongside: ")


def test_the_cards_open_with_the_answer_on_one_screen(bundled: Rulebase) -> None:
    evaluation = bundled.evaluate(LATER_LINE)
    cards = patient_view_cards(bundled, evaluation, Record(profile=evaluation.profile))
    answer = next(c for c in cards if c["summary"].startswith("Choices: "))
    # Before every option card, and after the record's warning only.
    assert cards.index(answer) < min(
        i for i, c in enumerate(cards) if c["summary"].startswith(OPTION_CARD)
    )
    assert all(c["indicator"] == "warning" for c in cards[: cards.index(answer)])
    assert answer["summary"].startswith(
        "Choices: 1 hormone therapy, 2 targeted therapy, 3 chemotherapy"
    )
    assert "alongside: bone-modifying therapy" in answer["summary"]
    detail = answer["detail"]
    assert detail.index("**Choices, in rank order:**") < detail.index("**Given alongside:**")
    assert "- 1 hormone therapy (option): exemestane, fulvestrant, tamoxifen" in detail
    assert "- radiation therapy: external beam radiation therapy" in detail
    assert "- letrozole: The cancer grew on letrozole" in detail
    radiation = next(c for c in cards if c["summary"].startswith("Alongside: Radiation"))
    assert radiation["detail"].startswith("**Given alongside the choices: radiation therapy")


def quoted(card: dict[str, Any]) -> list[str]:
    """The excerpts a card quotes: its Markdown block-quote lines."""
    return [line[2:] for line in card["detail"].splitlines() if line.startswith("> ")]


def squeeze(text: str) -> str:
    table = str.maketrans(
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
    return " ".join(text.translate(table).split()).casefold()


@pytest.fixture(scope="module")
def source_texts(bundled: Rulebase) -> dict[str, str]:
    if SOURCES is None:
        return {}
    return {
        source.publisher: squeeze((SOURCES / source.document).read_text(encoding="utf-8"))
        for source in bundled.sources.values()
    }


def check_cards(rulebase: Rulebase, evaluation: Evaluation, cards: list[dict[str, Any]]) -> None:
    RESPONSE_VALIDATOR.validate({"cards": cards})
    # A quote is a statement of the inventory word for word (a rule's citation, or one of the
    # sentences behind the sources' orderings that the ranking cites).
    cited = {
        (rulebase.sources[c.source].publisher, c.excerpt)
        for rule in rulebase.rules
        for c in rule.citations
    } | {(rulebase.sources[s.source].publisher, s.excerpt) for s in rulebase.coverage}
    for card in cards:
        assert evaluation.disclaimer in card["detail"]
        assert len(card["summary"]) <= 140
        lines = card["detail"].splitlines()
        for index, line in enumerate(lines):
            if line.startswith("> "):
                # Each quote is followed by its publisher and section, and is a rule's citation
                # word for word.
                attribution = lines[index + 2]
                publisher = attribution.removeprefix("— ").rsplit(", “", 1)[0]
                assert (publisher, line[2:]) in cited, (publisher, line[2:])


def test_one_card_per_option_in_rank_order(bundled: Rulebase, source_texts: dict[str, str]) -> None:
    evaluation = bundled.evaluate(HR_POSITIVE)
    cards = patient_view_cards(bundled, evaluation, Record(profile=evaluation.profile))
    check_cards(bundled, evaluation, cards)
    options = [c for c in cards if c["summary"].startswith(OPTION_CARD)]
    assert len(options) == len(evaluation.options)
    places = sorted({o.rank for o in evaluation.options if o.role != "supportive"})
    for card, option in zip(options, evaluation.options, strict=True):
        assert card["indicator"] == "info"
        summary = card["summary"]
        assert category_name(option.category) in summary.lower()
        assert f"({option.tier})" in summary
        if option.role == "supportive":  # issue 21: alongside, not a further choice
            assert summary.startswith("Alongside: ")
        else:  # numbered among the choices, as the answer card and every view number them
            assert summary.startswith(f"#{places.index(option.rank) + 1} ")
        if option.agents:
            first = agent_name(option.agents[0], bundled.vocabulary)
            assert first in summary
        assert card["source"]["label"] == option.citations[0].publisher
        # The option's citations, beside the sentences of its source agreement (issue 10).
        assert {c.excerpt for c in option.citations} <= set(quoted(card))
        for rationale in option.rationale:
            assert f"- {rationale}" in card["detail"]
        if source_texts:
            for citation in option.citations:
                assert squeeze(citation.excerpt) in source_texts[citation.publisher]


def test_the_warning_card_names_the_tests_that_would_change_the_answer(bundled: Rulebase) -> None:
    after_letrozole = {
        **HR_POSITIVE,
        "pr_status": "unknown",
        "prior_therapies": [{"agent": "letrozole", "outcome": "progressed"}],
    }
    evaluation = bundled.evaluate(after_letrozole)
    tests = bundled.informative_tests(evaluation)
    assert "pik3ca_status" in {t.status for t in tests}
    cards = patient_view_cards(bundled, evaluation, Record(profile=evaluation.profile))
    warning = cards[0]
    assert warning["indicator"] == "warning"
    assert warning["summary"].startswith("Check the record: ")
    assert "PIK3CA status" in warning["summary"]
    for test in tests:
        for outcome in test.outcomes:
            if test.agent is None:
                assert (
                    f"- {words(test.status)} {outcome.value.replace('_', ' ')}: "
                    in warning["detail"]
                )
    assert re.search(r"- PIK3CA status positive: .*adds .*alpelisib", warning["detail"])
    assert quoted(warning) == [c.excerpt for c in tests[0].citations]
    assert tests[0].citations
    first_option = next(c for c in cards if c["summary"].startswith(OPTION_CARD))
    assert "PR status" in first_option["detail"]  # unknowns listed on the option cards


def test_conflicts_and_reading_warnings_make_a_warning_card(bundled: Rulebase) -> None:
    evaluation = bundled.evaluate(HR_POSITIVE)
    record = Record(
        profile=evaluation.profile,
        conflicts=(
            Finding(
                "positive in one, negative in the other",
                ("Observation/er-1", "Observation/er-2"),
                "er_status",
            ),
        ),
        warnings=(Finding("unmapped drug code 999", ("MedicationStatement/m1",)),),
    )
    card = record_warning_card(bundled, evaluation, record, tests=[])
    assert card is not None
    RESPONSE_VALIDATOR.validate({"cards": [card]})
    assert card["summary"].startswith("Check the record: conflicting ER status")
    assert "ER status: positive in one, negative in the other (Observation/er-1, " in card["detail"]
    assert "unmapped drug code 999 (MedicationStatement/m1)" in card["detail"]
    for option_card in patient_view_cards(bundled, evaluation, record)[1:]:
        if not option_card["summary"].startswith("Choices: "):  # the answer, in one screen
            assert "Observation/er-2" in option_card["detail"]
    # A record that gives its history and complications, and no conflict: no warning card.
    known = bundled.evaluate({**HR_POSITIVE, "prior_therapies": [], "complications": []})
    assert record_warning_card(bundled, known, Record(profile=known.profile), []) is None


def test_missing_medication_data_is_said(bundled: Rulebase) -> None:
    evaluation = bundled.evaluate(HR_POSITIVE)
    card = record_warning_card(
        bundled,
        evaluation,
        Record(profile=evaluation.profile),
        [],
        missing_keys=["medicationAdministrations"],
    )
    assert card is not None
    assert "medicationAdministrations" in card["summary"]
    assert "treatment history is unknown" in card["detail"]


def test_what_is_not_recommended_has_its_own_card(bundled: Rulebase) -> None:
    evaluation = bundled.evaluate(TRIPLE_NEGATIVE)
    assert evaluation.not_recommended
    cards = patient_view_cards(bundled, evaluation, Record(profile=evaluation.profile))
    check_cards(bundled, evaluation, cards)
    refused = cards[-1]
    assert refused["summary"].startswith("Not recommended for this record: hormone therapy")
    for item in evaluation.not_recommended:
        assert item.reason in refused["detail"]
        for citation in item.citations:
            assert f"> {citation.excerpt}" in refused["detail"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_cards_of_any_profile_meet_the_contract(profile: dict[str, Any]) -> None:
    rulebase = Rulebase.bundled(engine="python")
    evaluation = rulebase.evaluate(profile)
    cards = patient_view_cards(rulebase, evaluation, Record(profile=evaluation.profile))
    check_cards(rulebase, evaluation, cards)
    assert sum(c["summary"].startswith(OPTION_CARD) for c in cards) == len(evaluation.options)
    assert any(c["summary"].startswith("Not recommended") for c in cards) == bool(
        evaluation.not_recommended
    )


def _order(bundled: Rulebase, profile: dict[str, Any], name: str) -> dict[str, Any] | None:
    evaluation = bundled.evaluate(profile)
    order = medication_request("draft-1", name)
    agent = bundled.vocabulary.resolve(name)
    card = order_card(bundled, evaluation, order, agent)
    if card is not None:
        RESPONSE_VALIDATOR.validate({"cards": [card]})
        assert evaluation.disclaimer in card["detail"]
    return card


def test_a_drug_the_cancer_grew_on_is_a_warning(bundled: Rulebase) -> None:
    grew = {**HR_POSITIVE, "prior_therapies": [{"agent": "palbociclib", "outcome": "progressed"}]}
    card = _order(bundled, grew, "Ibrance")
    assert card is not None
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Palbociclib: ")
    assert card["summary"].endswith("the cancer already grew on it")
    assert card["selectionBehavior"] == "at-most-one"
    action = card["suggestions"][0]["actions"][0]
    assert action == {
        "type": "delete",
        "description": "Remove the draft order of palbociclib",
        "resourceId": "MedicationRequest/draft-1",
    }


def test_a_drug_not_recommended_is_a_warning_citing_why(bundled: Rulebase) -> None:
    card = _order(bundled, TRIPLE_NEGATIVE, "letrozole")
    assert card is not None
    assert card["indicator"] == "warning"
    assert "not recommended for this record" in card["summary"]
    refusal = next(
        i
        for i in bundled.evaluate(TRIPLE_NEGATIVE).not_recommended
        if i.category == "hormone_therapy"
    )
    assert refusal.reason in card["detail"]
    assert quoted(card) == [c.excerpt for c in refusal.citations]


def test_a_drug_of_an_option_cites_that_option(bundled: Rulebase) -> None:
    card = _order(bundled, HR_POSITIVE, "Faslodex")
    assert card is not None
    option = bundled.evaluate(HR_POSITIVE).option("hormone_therapy")
    assert option is not None
    assert card["indicator"] == "info"
    assert card["summary"] == (
        f"Fulvestrant: option #{option.rank}, hormone therapy ({option.tier}) for this record"
    )
    excerpts = quoted(card)
    assert excerpts
    assert set(excerpts) <= {c.excerpt for c in option.citations}
    assert any("fulvestrant" in e.lower() for e in excerpts)


def test_a_known_drug_outside_the_options_is_explained(bundled: Rulebase) -> None:
    card = _order(bundled, HR_POSITIVE, "trastuzumab")
    assert card is not None
    assert card["indicator"] == "info"
    assert "not among the options" in card["summary"]
    assert "her2" in card["detail"].lower()


def test_no_card_for_what_the_sources_do_not_name(bundled: Rulebase) -> None:
    evaluation = bundled.evaluate(HR_POSITIVE)
    record = Record(profile=evaluation.profile)
    assert ordered_agents(bundled, medication_request("o1", "letrozole 2.5 MG Oral Tablet"))
    orders = [
        Entry(medication_request("o1", "aspirin")),
        Entry({"resourceType": "ServiceRequest", "id": "s1"}),
    ]
    assert order_select_cards(bundled, evaluation, record, orders) == []


@pytest.mark.skipif(
    "agreement" not in TreatmentOption.model_fields, reason="options carry no agreement yet"
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_option_cards_show_the_source_agreement(profile: dict[str, Any]) -> None:
    rulebase = Rulebase.bundled(engine="python")
    evaluation = rulebase.evaluate(profile)
    cards = patient_view_cards(rulebase, evaluation, Record(profile=evaluation.profile))
    options = [c for c in cards if c["summary"].startswith(OPTION_CARD)]
    for card, option in zip(options, evaluation.options, strict=True):
        agreement = option.agreement  # type: ignore[attr-defined,unused-ignore]
        assert "**Source agreement:**" in card["detail"]
        for source in agreement.supporting:
            assert rulebase.sources[source].publisher in card["detail"]
        for other in agreement.conditions_not_met:
            assert f"- {other.publisher} names " in card["detail"]
            for citation in other.citations:
                assert f"> {citation.excerpt}" in card["detail"]


GOOD_CARD: dict[str, Any] = {"summary": "s", "indicator": "info", "source": {"label": "x"}}
BAD_CARDS: list[tuple[str, dict[str, Any]]] = [
    ("summary over 140", {**GOOD_CARD, "summary": "x" * 141}),
    ("indicator not in the table", {**GOOD_CARD, "indicator": "danger"}),
    ("a null", {**GOOD_CARD, "uuid": None}),
    ("no source label", {**GOOD_CARD, "source": {}}),
    ("an attribute the spec does not have", {**GOOD_CARD, "priority": 1}),
    ("suggestions without selectionBehavior", {**GOOD_CARD, "suggestions": [{"label": "do it"}]}),
    (
        "create without a resource",
        {
            **GOOD_CARD,
            "selectionBehavior": "any",
            "suggestions": [{"label": "l", "actions": [{"type": "create", "description": "d"}]}],
        },
    ),
    (
        "link of an unknown type",
        {**GOOD_CARD, "links": [{"label": "l", "url": "https://x.org", "type": "web"}]},
    ),
]


@pytest.mark.parametrize(("case", "card"), BAD_CARDS, ids=[c[0] for c in BAD_CARDS])
def test_the_schema_refuses_what_the_specification_forbids(case: str, card: dict[str, Any]) -> None:
    RESPONSE_VALIDATOR.validate({"cards": [GOOD_CARD]})
    assert not RESPONSE_VALIDATOR.is_valid({"cards": [card]})


def test_a_treatment_with_an_unknown_outcome_is_asked_about(bundled: Rulebase) -> None:
    unknown_outcome = {
        **HR_POSITIVE,
        "prior_therapies": [{"agent": "fulvestrant", "outcome": "unknown"}],
    }
    evaluation = bundled.evaluate(unknown_outcome)
    tests = [t for t in bundled.informative_tests(evaluation) if t.agent == "fulvestrant"]
    assert tests, "whether the cancer grew on fulvestrant changes the answer"
    warning = patient_view_cards(bundled, evaluation, Record(profile=evaluation.profile))[0]
    assert "how fulvestrant ended" in warning["summary"]
    assert "- how fulvestrant ended (the cancer grew on it): " in warning["detail"]
