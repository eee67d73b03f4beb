"""The result: cited, traceable, serialisable."""

from __future__ import annotations

from mbc_rules import Evaluation, Rulebase, evaluate

PROFILE = {
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
}


def test_the_readme_example_runs_as_written() -> None:
    result = evaluate(PROFILE)
    assert result.options[0].rank == 1
    assert result.options[0].category == "hormone_therapy"
    assert all(o.citations and o.citations[0].excerpt for o in result.options)


def test_json_round_trip_is_unchanged(rulebase: Rulebase) -> None:
    result = rulebase.evaluate(
        {**PROFILE, "prior_therapies": [{"agent": "Femara", "outcome": "progressed"}]}
    )
    text = result.model_dump_json()
    again = Evaluation.model_validate_json(text)
    assert again == result
    assert again.model_dump_json() == text


def test_the_result_carries_its_trace_and_rulebase_identity(bundled: Rulebase) -> None:
    result = bundled.evaluate(PROFILE)
    assert result.rulebase_version == bundled.version
    assert len(result.rulebase_hash) == 64
    assert result.fired_rules == [
        r for r in result.fired_rules if r in {x.id for x in bundled.rules}
    ]
    for option in result.options:
        assert set(option.rule_ids) <= set(result.fired_rules)
        assert option.source_ids == sorted({c.source for c in option.citations})
    assert "not medical advice" in result.disclaimer


def test_a_male_patient_is_told_the_sources_were_written_for_women() -> None:
    assert any(
        "mainly for women" in c
        for c in evaluate({**PROFILE, "sex": "male", "menopausal_status": "unknown"}).caveats
    )
    assert not any("mainly for women" in c for c in evaluate(PROFILE).caveats)
