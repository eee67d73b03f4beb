"""Plain words: no rule vocabulary ever reaches the reader, whatever the fact or operator."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

import mbc_rules
from mbc_rules import Rulebase
from mbc_rules.conditions import Operator
from mbc_rules.facts import FACTS
from mbc_rules.result import Names
from mbc_rules.wording import (
    OPERATOR_SYMBOLS,
    agent_name,
    agent_with_class,
    condition_words,
    fact_test_text,
    read_fact_test_text,
    regimen_words,
    requirement,
    state,
)

RULE_VOCABULARY = re.compile(r"[a-z]+_[a-z]+|[≤≥≠=]|\btrue\b|\bfalse\b")


def _tests(fact: str) -> list[tuple[str, object]]:
    definition = FACTS[fact]
    if definition.kind == "count":
        return [("at_least", 1), ("at_least", 2), ("at_most", 0), ("at_most", 1)]
    if definition.kind == "flag":
        return [("equals", True), ("equals", False), ("not_equals", True)]
    values = list(definition.values)
    return [
        *[("equals", v) for v in values],
        *[("not_equals", v) for v in values],
        ("in", tuple(values[:2])),
        ("not_in", tuple(values[:2])),
    ]


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_every_test_of_every_fact_reads_in_plain_words(fact: str) -> None:
    for operator, operand in _tests(fact):
        said = requirement(fact, operator, operand)
        assert said
        assert not RULE_VOCABULARY.search(said), (fact, operator, operand, said)


def test_every_operator_of_the_condition_language_has_its_symbol() -> None:
    assert set(OPERATOR_SYMBOLS) == set(get_args(Operator))
    assert len(set(OPERATOR_SYMBOLS.values())) == len(OPERATOR_SYMBOLS)


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_a_fact_test_written_in_the_rules_terms_reads_back_as_itself(fact: str) -> None:
    # What rank writes into AgreementCondition.condition, the report reads back: one table
    # of symbols both ways, so the text can never drift from its reading.
    for operator, operand in _tests(fact):
        text = fact_test_text(fact, operator, operand)
        assert read_fact_test_text(text) == (fact, operator, operand), text
        assert condition_words(text) == requirement(fact, operator, operand)


def test_no_module_but_wording_writes_the_operator_symbols() -> None:
    package = Path(mbc_rules.__file__).parent
    symbols = set(OPERATOR_SYMBOLS.values()) - {"in", "not in", "="}
    found = [
        f"{path.relative_to(package)}:{node.lineno} {node.value!r}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "wording.py" or path.parent != package
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in symbols
    ]
    assert found == []


@pytest.mark.parametrize("fact", sorted(FACTS))
def test_every_value_of_every_fact_reads_in_plain_words(fact: str) -> None:
    definition = FACTS[fact]
    values: list[object] = (
        [0, 1, 3]
        if definition.kind == "count"
        else [True, False]
        if definition.kind == "flag"
        else list(definition.values)
    )
    for value in values:
        said = state(fact, value, None, None)  # type: ignore[arg-type]
        assert not RULE_VOCABULARY.search(said), (fact, value, said)


def test_an_any_of_values_reads_with_or() -> None:
    said = requirement("hormone_receptor_status", "in", ("positive", "unknown"))
    assert said == (
        "hormone receptor positive (ER or PR positive) or hormone receptor status not known"
    )


def test_the_history_names_the_drug_and_its_class() -> None:
    rulebase = Rulebase.bundled()
    profile = rulebase.read_profile(
        {"prior_therapies": [{"agent": "Femara", "outcome": "progressed"}]}
    )
    said = state("aromatase_inhibitor_failed", True, profile, rulebase.vocabulary)
    assert said == "the cancer grew on letrozole, a non-steroidal aromatase inhibitor"
    assert (
        agent_with_class("letrozole", rulebase.vocabulary)
        == "letrozole, a non-steroidal aromatase inhibitor"
    )


def test_class_placeholders_read_as_classes() -> None:
    vocabulary = Rulebase.bundled().vocabulary
    assert agent_name("cdk4_6_inhibitor", vocabulary) == "a CDK4/6 inhibitor"
    assert agent_name("aromatase_inhibitor", vocabulary) == "an aromatase inhibitor"
    assert agent_name("mtor_inhibitor", vocabulary) == "an mTOR inhibitor"
    assert agent_name("hormone_therapy", vocabulary) == "hormone therapy"
    assert agent_name("letrozole", vocabulary) == "letrozole"


def test_a_class_after_a_drug_of_it_reads_as_another_of_it() -> None:
    # ACS: trastuzumab "given along with chemo or with other medications such as hormonal
    # therapy or other anti-HER2 drugs": the class placeholder after trastuzumab is another.
    rulebase = Rulebase.bundled()
    vocabulary = rulebase.vocabulary
    said = regimen_words(("trastuzumab", "anti_her2_therapy"), vocabulary)
    assert said == "trastuzumab with another HER2-targeted drug"
    assert regimen_words(("trastuzumab", "hormone_therapy"), vocabulary) == (
        "trastuzumab with hormone therapy"
    )
    assert regimen_words(("palbociclib", "aromatase_inhibitor"), vocabulary) == (
        "palbociclib with an aromatase inhibitor"
    )
    assert regimen_words(("pertuzumab", "chemotherapy", "trastuzumab"), vocabulary) == (
        "pertuzumab with chemotherapy and trastuzumab"
    )
    result = rulebase.evaluate(
        {"er_status": "negative", "pr_status": "negative", "her2_status": "positive"}
    )
    regimens = [r.name for o in result.options for r in o.regimens]
    assert "trastuzumab with another HER2-targeted drug" in regimens
    assert "trastuzumab with another HER2-targeted drug" in str(result)
    assert "with anti-HER2 therapy" not in str(result)


def test_an_unknown_history_reads_as_not_given_never_as_none() -> None:
    from mbc_rules import PatientProfile
    from mbc_rules.wording import patient_facts

    unknown = PatientProfile.model_construct(
        **{**PatientProfile().model_dump(), "prior_therapies": None, "complications": None}
    )
    rows = dict(patient_facts(unknown, Names()))
    assert rows["treatment history"] == "not given"
    assert rows["complications"] == "not given"
    assert "progressed on" not in rows
    none = dict(patient_facts(PatientProfile(prior_therapies=[], complications=[]), Names()))
    assert none["progressed on"] == "nothing reported"


# --- the sentences the views build: written here, from structured values ----------------------


def test_the_agreement_of_the_sources_in_words() -> None:
    from mbc_rules import wording as w

    assert (
        w.supported_as_offered(["ACS", "NCI", "YSC"]) == "supported as offered by ACS, NCI and YSC"
    )
    assert w.supported_as_offered([]) == "no source supports it as offered"
    assert w.named_at_another_time("ACS", ["tamoxifen", "letrozole"], "before menopause") == (
        "ACS names tamoxifen and letrozole when before menopause, not the case here"
    )
    assert w.named_at_another_time("ACS", [], "") == (
        "ACS names it when at another time, not the case here"
    )
    assert w.sources_supporting(4, 5) == "4 of 5 sources support it as offered"
    assert w.sources_supporting(1, 0) == "1 source support it as offered"
    assert w.sources_supporting(2, 0) == "2 sources support it as offered"
    assert w.sources_naming_when(["ACS", "PDQ"], ["olaparib"], "a germline BRCA1/2 mutation") == (
        "ACS, PDQ name olaparib when a germline BRCA1/2 mutation (not the case here)"
    )
    assert w.sources_naming_when(["ACS"], [], "") == (
        "ACS names it when at another time (not the case here)"
    )
    assert w.card_supported_as_offered(["ACS", "NCI"]) == "supported as offered by ACS, NCI"
    assert w.card_supported_as_offered([]) == "none as offered"
    assert w.card_named_at_another_time("ACS", ["a", "b"], "") == (
        "ACS names a, b when at another time, not the case here:"
    )
    assert w.card_named_at_another_time("ACS", [], "after menopause") == (
        "ACS names this option when after menopause, not the case here:"
    )


def test_what_was_given_before_and_what_the_cancer_grew_on_in_words() -> None:
    from mbc_rules import wording as w

    given = [("letrozole", "stable", "metastatic"), ("tamoxifen", "completed", "early")]
    assert w.given_before_line(given) == (
        "already given without the cancer growing on it: letrozole (stable, for metastatic "
        "disease) and tamoxifen (completed, before metastasis)"
    )
    assert w.outcome_unknown_line([("letrozole", "early")]) == (
        "given before, how it ended not known: letrozole (before metastasis); if the cancer "
        "grew on it, it would not be offered again"
    )
    assert w.card_given_before(given) == (
        "letrozole (stable, metastatic), tamoxifen (completed, early)"
    )
    assert w.card_grew_on("letrozole", "metastatic", 2) == (
        "The cancer grew on letrozole",
        "the record lists it as progressed, metastatic setting (line 2).",
    )
    assert w.card_grew_on("letrozole", "early", None)[1] == (
        "the record lists it as progressed, early setting."
    )
    assert w.card_order_warning("letrozole", True, True) == (
        "Letrozole: not recommended for this record and the cancer already grew on it"
    )
    assert w.card_order_warning("letrozole", False, True) == (
        "Letrozole: the cancer already grew on it"
    )
    assert w.named_with_class("letrozole", "an aromatase inhibitor") == (
        "letrozole, an aromatase inhibitor"
    )
    assert w.named_with_class("surgery", None) == "surgery"


def test_what_a_test_would_change_in_words() -> None:
    from mbc_rules import wording as w

    assert w.rank_move_words("chemotherapy", "up", 2, 1, ["targeted therapy"], []) == (
        "moves chemotherapy up (rank 2 to 1): past targeted therapy"
    )
    assert w.rank_move_words("surgery", "down", 3, 3, [], ["a", "b"]) == (
        "moves surgery down (still rank 3, with options added or removed): a and b move past it"
    )
    assert w.rank_move_words("surgery", "up", 3, 2, ["a"], ["b"]) == (
        "moves surgery up (rank 3 to 2): past a, and b moves past it"
    )
    assert w.informative_test_words("pik3ca_status", None) == "PIK3CA mutation"
    assert w.informative_test_words("her2_status", "capecitabine") == (
        "how capecitabine ended (not known)"
    )
    assert w.informative_test_words("prior_therapies", "letrozole") == (
        "treatment history (not given)"
    )
    assert w.informative_test_words("brain_metastases", None) == (
        "how many brain metastases, and how large (not described)"
    )
    assert w.answer_words("x", "capecitabine", "progressed") == ("the cancer grew on capecitabine")
    assert w.answer_words("x", "capecitabine", "completed") == (
        "capecitabine ended without the cancer growing (completed)"
    )
    assert w.answer_words("complications", None, "none") == "there were no complications"
    assert w.answer_words("complications", None, "bone_pain") == "the spread caused bone pain"
    assert w.answer_words("pik3ca_status", None, "positive") == "a PIK3CA mutation in the tumour"
    assert w.if_words("it rains") == "if it rains"
    assert w.change_words(["chemotherapy"], ["olaparib", "surgery"]) == [
        "adds chemotherapy",
        "removes olaparib and surgery",
    ]
    assert w.change_words([], []) == []
    assert w.card_test_words("PIK3CA status", None) == "PIK3CA status"
    assert w.card_test_words("PIK3CA status", "capecitabine") == "how capecitabine ended"
    assert w.card_answer_words("progressed", of_a_treatment=True) == "(the cancer grew on it)"
    assert w.card_answer_words("stopped", of_a_treatment=True) == "(stopped)"
    assert w.card_answer_words("none", of_a_treatment=False) == "(if there were none)"
    assert w.card_answer_words("multiple_large", of_a_treatment=False) == "multiple large"
    assert w.card_change_words(["a"], ["b"], [("c", 1, 2), ("d", 3, 1)], ["e"], ["f", "g"]) == [
        "adds a",
        "removes b",
        "moves c (#1 to #2), d (#3 to #1)",
        "adds e",
        "removes f, g",
    ]


def test_the_notes_and_the_lines_of_a_report_in_words() -> None:
    from mbc_rules import wording as w

    assert w.anti_her2_note(["a with b", "c with d"], any_left=True) == (
        "HER2-positive disease: every therapy involves anti-HER2 treatment; here: a with b; "
        "c with d."
    )
    assert w.anti_her2_note([], any_left=True).endswith(
        "give it with an anti-HER2 drug of the targeted therapy option."
    )
    assert w.anti_her2_note([], any_left=False).endswith(
        "but no anti-HER2 drug the sources name is left untried for this patient."
    )
    assert set(w.NOTE_WORDS) == {
        "after_systemic_treatment",
        "after_hormone_therapy",
        "chemotherapy_first",
    }
    assert w.regimen_of(["alpelisib", "fulvestrant"]) == "alpelisib with fulvestrant"
    assert w.regimen_of(["a", "b", "c"]) == "a with b and c"
    assert w.regimen_of([]) == ""
    assert w.in_general("chemotherapy") == "chemotherapy in general"
    assert w.not_recommended_line("toremifene", "Not stocked.", " [local: x]", True) == (
        "not available here: toremifene: Not stocked. [local: x]"
    )
    assert w.not_recommended_line("surgery", "Why.", "", False) == "surgery: Why."
    assert w.rulebase_words("2.4.0", "0123456789abcdef") == "Rulebase 2.4.0 (sha256 0123456789ab)"
    assert w.card_rules_words("2.4.0", "0123456789abcdef") == (
        "Rules 2.4.0, sha256 0123456789abcdef."
    )


def test_the_sentences_of_an_explanation_in_words() -> None:
    from mbc_rules import wording as w

    assert w.fact_needs_text("pik3ca_status", "equals", "positive", "unknown") == (
        "needs pik3ca_status = positive; this profile's pik3ca_status is unknown"
    )
    assert w.fact_needs_text("lines_failed", "at_most", 0, 2) == (
        "needs lines_failed ≤ 0; this profile's lines_failed is 2"
    )
    assert w.waits_on_words("a PIK3CA mutation", "Alpelisib") == "a PIK3CA mutation: Alpelisib"
    assert w.nearest_rule_words("x", "T", history_only=True) == (
        "no test: the sources offer it with x: T"
    )
    assert w.nearest_rule_words("x", "T", history_only=False) == "the sources offer it with x: T"
    assert w.waiting_on_a_test(["a", "b"]) == "waiting on a test: a and b"
    assert w.quote_words("Words.", "ACS") == ' "Words." (ACS)'
    assert w.offered_verdict("letrozole", "hormone therapy", 1, 7, False, "preferred", None) == (
        "letrozole: offered within hormone therapy, rank 1 of 7, preferred."
    )
    assert w.offered_verdict("surgery", None, 4, 7, True, "option", "situational") == (
        "surgery: offered, rank 4 of 7 (tied), option (surgery itself: situational)."
    )
    assert w.refused_verdict("x", 'The cancer grew on x. "quoted" (ACS)') == (
        "x: not offered: the cancer grew on x."
    )
    assert w.refused_verdict("x", "HER2 negative") == "x: not offered: HER2 negative."
    assert w.refused_verdict("x", None) == "x: not offered: no rule that names it applies."
    assert w.unnamed_verdict("x") == "x: not offered; no rule of the rulebase names it."
    assert w.tier_line("option") == (
        "tier: option (an option the sources name), the strongest any of its rules gives"
    )
    assert w.supported_by_line(1, ["ACS"]) == "supported by 1 source (ACS)"
    assert w.supported_by_line(2, ["ACS", "PDQ"]) == "supported by 2 sources (ACS, PDQ)"
    assert w.shares_rank_line(2, ["surgery"]) == (
        "shares rank 2 with surgery: equal on every ordering rule (listed in the usual order "
        "of the categories)"
    )
    assert w.next_to_line("after", "surgery", "why") == "after surgery: why"
    first, then = ("chemotherapy", "preferred", 4), ("surgery", "option", 2)
    assert w.ordered_by_words("tier", first, then) == "preferred comes before option"
    assert w.ordered_by_words("sources", first, then) == (
        "more sources support chemotherapy (4 against 2)"
    )
    assert w.ordered_by_words("local", first, then) == (
        "systemic treatment comes before local and other treatment"
    )
    assert w.differ_line("ACS", "after menopause", "Words.") == (
        'ACS names it for another time: after menopause "Words."'
    )
    assert w.differ_line("ACS", "after menopause", None) == (
        "ACS names it for another time: after menopause"
    )
    assert w.other_rules_line(1).startswith("1 other rule name it but do not apply")
    assert w.other_rules_line(3).startswith("3 other rules name it but do not apply")


def test_every_field_that_orders_the_ranking_has_its_words() -> None:
    from mbc_rules import wording as w
    from mbc_rules.rank.arrange import OrderField

    first, then = ("chemotherapy", "preferred", 4), ("surgery", "option", 2)
    said = {field: w.ordered_by_words(field, first, then) for field in get_args(OrderField)}
    assert len(set(said.values())) == len(said), said


def test_a_rule_reads_for_the_patient_from_its_trace() -> None:
    from mbc_rules import wording as w
    from mbc_rules.conditions import read, trace
    from mbc_rules.facts import derive_facts

    rulebase = Rulebase.bundled()
    rule = rulebase.rules_by_id["alpelisib-pik3ca-after-aromatase-inhibitor"]
    profile = rulebase.read_profile(
        {
            "er_status": "positive",
            "her2_status": "negative",
            "menopausal_status": "postmenopausal",
            "prior_therapies": [{"agent": "letrozole", "outcome": "progressed"}],
        }
    )
    node = read(trace(rule.when, derive_facts(profile, rulebase.vocabulary)))
    assert not node.held
    assert w.rule_needs_text(node) == (
        "needs pik3ca_status = positive; this profile's pik3ca_status is unknown"
    )
    assert "pik3ca_status = positive [not met: unknown]" in w.condition_text(node)
    said = w.rule_said(
        node, counted=False, fired=False, offers=True, profile=profile, vocabulary=None
    )
    assert said == (
        "would offer it with a PIK3CA mutation in the tumour (this patient: PIK3CA status not "
        "known)"
    )
    assert (
        w.rule_said(node, counted=False, fired=False, offers=False, profile=None, vocabulary=None)
        == ""
    )
    assert w.rule_said(
        node, counted=False, fired=True, offers=True, profile=None, vocabulary=None
    ) == ("its sources speak only of women, so it does not count for this patient")
    positive = profile.model_copy(update={"pik3ca_status": "positive"})
    held = read(trace(rule.when, derive_facts(positive, rulebase.vocabulary)))
    assert held.held
    assert w.rule_said(
        held, counted=True, fired=True, offers=True, profile=None, vocabulary=None
    ).startswith("applies: ")
    assert w.rule_said(
        held, counted=True, fired=True, offers=False, profile=None, vocabulary=None
    ).startswith("rules it out: ")


# The views' sentences, and phrases they were built from, now written only in wording.py: a
# string of the modules below (not a docstring, not a field's description) holding one means a
# sentence is being written outside wording again.
MOVED_PHRASES = (
    "supported as offered",
    "support it as offered",
    "not the case here",
    "at another time",
    "grew on",
    "already given without",
    "how it ended not known",
    "would not be offered again",
    "moves ",
    "move past it",
    "adds ",
    "removes ",
    "ended without the cancer growing",
    "needs ",
    "this profile's",
    "no profile can meet",
    "would offer it with",
    "the sources offer it with",
    "speak only of women",
    "applies",
    "rules it out",
    "waiting on a test",
    "no test: ",
    "not offered",
    "itself: ",
    "shares rank",
    "supported by",
    "comes before",
    "more sources support",
    "listed after every",
    "names it for another time",
    "name it but do not apply",
    "HER2-positive disease",
    "Systemic drugs are the main",
    "left untried",
    "Serious problems from the spread",
    " in general",
    "sha256 ",
    "not available here: {",
    "not recommended for this record",
    "the record lists it as progressed",
    "if there were none",
    "Remove the draft order",
    "belongs to option",
    "not among the options",
    "Check the record",
    "unknown and would change",
    "reading warning",
    "were not asked for",
)
WORDED_ELSEWHERE_NO_MORE = (
    "report.py",
    "service/cards.py",
    "rank/present.py",
    "explain.py",
)


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module (parts of f-strings too), without docstrings and the
    descriptions of fields.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg == "description":
            skipped |= {id(n) for n in ast.walk(node.value)}
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
    ]


@pytest.mark.parametrize("module", WORDED_ELSEWHERE_NO_MORE)
def test_the_views_no_longer_write_the_moved_sentences(module: str) -> None:
    path = Path(mbc_rules.__file__).parent / module
    found = [
        f"{module}:{line} {phrase!r} in {text!r}"
        for line, text in _strings(path)
        for phrase in MOVED_PHRASES
        if phrase in text
    ]
    # A regimen is joined in wording ("alpelisib with fulvestrant"): no bare " with " left.
    found += [f"{module}:{line} {text!r}" for line, text in _strings(path) if text == " with "]
    assert found == []


def test_the_phrase_check_would_find_a_sentence_written_outside_wording(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Not offered: a docstring is no sentence a reader sees."""\n'
        "def f(x):\n"
        '    """Supported as offered, in a docstring."""\n'
        '    return f"supported as offered by {x}"\n',
        encoding="utf-8",
    )
    found = [t for _, t in _strings(module) if any(p in t for p in MOVED_PHRASES)]
    assert found == ["supported as offered by "]


def test_wording_stays_a_low_layer() -> None:
    # Wording reads the vocabulary-level modules and the values of results; the modules that
    # call it (the views, the ranking, explanations) are never read back by it.
    tree = ast.parse((Path(mbc_rules.__file__).parent / "wording.py").read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mbc_rules")
    }
    assert imported <= {
        "mbc_rules.facts",
        "mbc_rules.result",
        "mbc_rules.conditions",
        "mbc_rules.profile",
        "mbc_rules.schema",
        "mbc_rules.vocabulary",
    }


def test_the_order_and_record_cards_in_words() -> None:
    from mbc_rules import wording as w

    assert w.card_remove_order("letrozole") == "Remove the draft order of letrozole"
    assert w.card_order_option("letrozole", 1, "hormone therapy", "preferred") == (
        "**letrozole** belongs to option #1, hormone therapy (preferred), for this record.",
        "Letrozole: option #1, hormone therapy (preferred) for this record",
    )
    assert w.card_order_not_an_option("olaparib") == (
        "**olaparib** is not among the options the sources give for this record.",
        "Olaparib: not among the options the sources give for this record",
    )
    said = w.card_check_the_record(
        left_out=True,
        conflicting=["HER2 status", "ER status"],
        tests=["PIK3CA status", "how letrozole ended"],
        missing=["medications"],
        warnings=2,
        caveats=True,
    )
    assert said == (
        "Check the record: resources of another patient left out; conflicting HER2 status, ER "
        "status; PIK3CA status, how letrozole ended unknown and would change the answer; "
        "medications not sent"
    )

    def quiet(conflicting: list[str] | None, warnings: int = 0, caveats: bool = False) -> str:
        return w.card_check_the_record(
            left_out=False,
            conflicting=conflicting,
            tests=[],
            missing=[],
            warnings=warnings,
            caveats=caveats,
        )

    assert quiet([]) == "Check the record: conflicting entries"
    assert quiet(None, warnings=2) == "Check the record: 2 reading warning(s)"
    assert quiet(None, caveats=True) == "Check the record: limits to this answer"
    assert quiet([], warnings=2, caveats=True) == "Check the record: conflicting entries"
