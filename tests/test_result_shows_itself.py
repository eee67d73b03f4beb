"""A result shows itself: ``str``, ``to_markdown`` and the notebook view are functions of the
result alone, equal to ``mbc_rules.report`` and ``mbc_rules.show``, and the same for a result
read back from JSON (issue 21).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings

import mbc_rules
from mbc_rules import Rulebase
from mbc_rules.evaluation import Evaluation, EvaluationReport
from mbc_rules.report import TESTS_NOT_ASKED

from .cases import LATER_LINE
from .strategies import profiles


def _head(text: str) -> list[str]:
    return text.split("\nIn detail:\n")[0].splitlines()


def test_str_is_the_text_report_and_to_markdown_the_page() -> None:
    result = mbc_rules.evaluate(LATER_LINE)
    assert isinstance(result, EvaluationReport)
    assert str(result) == mbc_rules.report(result)
    assert result.to_markdown() == mbc_rules.report(result, format="markdown")
    assert result._repr_html_() == mbc_rules.show(result)._repr_html_()
    # The text report of the command line, not pydantic's field dump.
    assert str(result).startswith("Patient p-7: receptors ER positive, PR positive")
    assert "TreatmentOption(" not in str(result)


def test_a_result_read_back_from_json_shows_the_same_with_no_rulebase() -> None:
    result = mbc_rules.evaluate(LATER_LINE)
    again = EvaluationReport.model_validate_json(result.model_dump_json())
    assert again == result
    assert str(again) == str(result)
    assert again.to_markdown() == result.to_markdown()
    assert again._repr_html_() == result._repr_html_()
    # The names come from the result: a class placeholder reads as a class.
    assert "a CDK4/6 inhibitor" in str(again)
    assert "cdk4_6_inhibitor" not in str(again)


def test_the_later_line_answer_leads_every_view() -> None:
    result = mbc_rules.evaluate(LATER_LINE)
    head = _head(str(result))
    start = head.index("Choices, in rank order:")
    alongside = head.index("Given alongside:")
    choices = head[start + 1 : alongside]
    assert (
        choices[0] == "  1 hormone therapy (option): exemestane, fulvestrant, tamoxifen, toremifene"
    )
    assert choices[1].startswith("  2 targeted therapy (option): everolimus")
    assert choices[2].startswith("  3 chemotherapy (option)")
    # The choices are numbered 1, 2, 3 ...: care alongside takes no number among them.
    numbers = [int(re.match(r"  (\d+)", line).group(1)) for line in choices]  # type: ignore[union-attr]
    assert numbers == list(range(1, len(choices) + 1))
    given_alongside = head[alongside + 1 : head.index("Not recommended:")]
    assert given_alongside[0].startswith("  bone-modifying therapy: denosumab")
    assert any(line.startswith("  radiation therapy: external beam") for line in given_alongside)
    assert "  palliative care: anti-nausea drugs, antidepressants, palliative care" in (
        given_alongside
    )
    markdown = result.to_markdown()
    lead = markdown.split("**In detail**")[0]
    assert "- 1 hormone therapy (option): exemestane, fulvestrant, tamoxifen" in lead
    assert lead.index("**Given alongside:**") < lead.index("- radiation therapy: external beam")
    html = result._repr_html_()
    answer = html[html.index("class='mbc-answer'") : html.index("<details")]
    assert "1 hormone therapy (option): exemestane" in answer
    assert answer.index("Given alongside:") < answer.index("radiation therapy: external beam")


def test_radiation_for_bone_pain_is_given_alongside_not_a_choice() -> None:
    result = mbc_rules.evaluate(LATER_LINE)
    radiation = result.option("radiation_therapy")
    assert radiation is not None
    assert radiation.role == "supportive"
    assert set(radiation.rule_ids) <= {
        "bone-pain-radiation",
        "brain-or-spinal-cord-radiation-for-symptoms",
        "weak-or-broken-bones-radiation",
        "strontium-89-widespread-bone-pain",
    }
    assert "+     radiation therapy       alongside" in str(result)


def test_radiation_against_brain_metastases_stays_a_choice() -> None:
    # Whole-brain radiation treats the metastases ("may be recommended"): a choice, even when
    # radiation to relieve symptoms fires beside it.
    result = mbc_rules.evaluate(
        {**LATER_LINE, "metastatic_sites": ["bone", "brain"], "brain_metastases": "multiple"}
    )
    radiation = result.option("radiation_therapy")
    assert radiation is not None
    assert "brain-multiple-whole-brain-radiation" in radiation.rule_ids
    assert radiation.role == "anticancer"
    choices = _head(str(result))
    assert any(line.startswith("  ") and "radiation therapy (option)" in line for line in choices)


def test_a_result_without_its_tests_says_how_to_have_them() -> None:
    rulebase = Rulebase.bundled()
    plain = rulebase.evaluate(LATER_LINE)
    assert type(plain) is Evaluation
    assert str(plain) == rulebase.report(plain) == mbc_rules.report(plain)
    assert " ".join(TESTS_NOT_ASKED.split()) in " ".join(str(plain).split())
    full = rulebase.evaluate(LATER_LINE, informative_tests=True)
    assert "PIK3CA mutation: if a PIK3CA mutation in the tumour: adds alpelisib" in str(full)
    assert TESTS_NOT_ASKED not in str(full)
    assert rulebase.with_informative_tests(plain) == full


def test_a_drug_whose_outcome_is_unknown_is_not_said_to_have_worked() -> None:
    result = mbc_rules.evaluate(
        {**LATER_LINE, "prior_therapies": [{"agent": "letrozole", "outcome": "unknown"}]}
    )
    text = " ".join(str(result).split())
    assert "already given without the cancer growing on it: letrozole" not in text
    assert "given before, how it ended not known: letrozole" in text
    assert any(
        c.startswith("How letrozole ended is not given (outcome unknown)") for c in result.caveats
    )
    # Asking how it ended is among the tests that would change the answer.
    assert "how letrozole ended (not known): if the cancer grew on letrozole" in text


def test_a_held_back_drug_is_named_once_in_its_line() -> None:
    result = mbc_rules.evaluate(LATER_LINE)
    line = next(line for line in _head(str(result)) if line.startswith("  anastrozole:"))
    assert line.count("anastrozole") == 1
    assert "the cancer grew on letrozole" in line


def test_the_views_number_tied_choices_alike() -> None:
    rulebase = Rulebase.bundled()
    # Triple-negative with nothing known beyond it ties several options (docs/ranking.md).
    result = rulebase.evaluate(
        {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
    )
    from mbc_rules.report import read_options

    views = read_options(result)
    choices = [v for v in views if v.option.role == "anticancer"]
    for one, other in itertools.pairwise(choices):
        assert (one.choice == other.choice) == (one.option.rank == other.option.rank)
        assert other.choice is not None
        assert one.choice is not None
        assert other.choice - one.choice in (0, 1)
    assert all(v.rank_label == "+" for v in views if v.option.role == "supportive")


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_names_cover_every_drug_the_views_show(engine: str) -> None:
    rulebase = Rulebase.bundled(engine=engine)  # type: ignore[arg-type]
    result = rulebase.evaluate(LATER_LINE)
    named = {a.id for a in result.names.agents}
    for option in result.options:
        assert set(option.agents) <= named
        assert {a for r in option.regimens for a in r.agents} <= named
    assert {a for item in result.not_recommended for a in item.agents} <= named
    assert {t.agent for t in result.profile.prior_therapies or ()} <= named
    assert [s.id for s in result.names.sources] == list(rulebase.sources)


@settings(max_examples=60, deadline=None)
@given(profile=profiles())
def test_every_result_shows_itself_from_its_own_values(profile: dict[str, Any]) -> None:
    rulebase = Rulebase.bundled(engine="python")
    result = rulebase.evaluate(profile)
    text = str(result)
    back = Evaluation.model_validate_json(result.model_dump_json())
    assert str(back) == text
    # No id with an underscore reaches the reader: every drug shown has its name.
    shown = text.split("\nIn detail:\n")[0]
    assert not re.search(r"\b[a-z0-9]+_[a-z0-9_]+\b", shown), shown
    for option in result.options:
        cited = [i for group in option.citation_groups for i in group.citations]
        assert set(cited) == set(range(len(option.citations)))
