"""The result: cited, traceable, serialisable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

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
    assert again.model_dump_json() == text
    assert again == result
    assert again.model_dump_json() == text


def test_the_result_carries_its_trace_and_rulebase_identity(bundled: Rulebase) -> None:
    result = bundled.evaluate(PROFILE)
    assert result.rulebase_version == bundled.version
    assert len(result.rulebase_hash) == 64
    assert result.fired_rules == tuple(
        r.id for r in bundled.rules if r.id in set(result.fired_rules)
    )
    for option in result.options:
        assert set(option.rule_ids) <= set(result.fired_rules)
        assert option.source_ids == tuple(sorted({c.source for c in option.citations}))
    assert "not medical advice" in result.disclaimer


def test_a_male_patient_is_told_the_sources_were_written_for_women() -> None:
    assert any(
        "mainly for women" in c
        for c in evaluate({**PROFILE, "sex": "male", "menopausal_status": "unknown"}).caveats
    )
    assert not any("mainly for women" in c for c in evaluate(PROFILE).caveats)


def test_different_results_are_unequal(bundled: Rulebase) -> None:
    first = bundled.evaluate(PROFILE)
    other = bundled.evaluate({**PROFILE, "her2_status": "positive"})
    assert first != other
    assert first != first.model_copy(update={"caveats": ("another caveat",)})
    assert first == Evaluation.model_validate_json(first.model_dump_json())


def test_one_result_cannot_change_another_patients_answer(bundled: Rulebase) -> None:
    # Regression: ranked answers are cached per set of fired rules, and results once shared
    # their inner lists, so appending to one patient's agents changed the next patient's.
    first = bundled.evaluate({**PROFILE, "patient_id": "one"})
    before = bundled.evaluate({**PROFILE, "patient_id": "two"}).model_dump_json()
    option = first.options[0]
    with pytest.raises(AttributeError):
        option.agents.append("X")  # type: ignore[attr-defined,unused-ignore]
    with pytest.raises(ValidationError):
        option.agents = ("X",)  # type: ignore[misc,unused-ignore]
    dumped = first.model_dump()
    dumped["options"][0]["rationale"] = ["X"]
    copied = first.model_copy(update={"caveats": ("X",)})
    assert copied.options is first.options  # shared, and safe to share: nothing can change it
    assert bundled.evaluate({**PROFILE, "patient_id": "two"}).model_dump_json() == before
    assert "X" not in bundled.evaluate({**PROFILE, "patient_id": "three"}).options[0].agents


def test_an_assembled_evaluation_is_the_constructed_one() -> None:
    from mbc_rules.evaluation import assembled

    result = Rulebase.bundled(engine="compiled").evaluate({"er_status": "positive"})
    fields = {name: getattr(result, name) for name in Evaluation.model_fields}
    built = assembled(**fields)
    constructed = Evaluation.model_construct(**fields)
    assert built == constructed
    assert built.model_fields_set == constructed.model_fields_set == set(Evaluation.model_fields)
    assert list(built.__dict__) == list(Evaluation.model_fields)
    assert built.model_dump_json() == result.model_dump_json()


def test_constructed_is_model_construct_and_falls_back_when_a_field_is_missing() -> None:
    from mbc_rules.result import TreatmentOption, constructed

    result = Rulebase.bundled(engine="compiled").evaluate(
        {"er_status": "positive", "metastatic_sites": ["bone"], "prior_therapies": []}
    )
    option = result.options[0]
    fields = {name: getattr(option, name) for name in TreatmentOption.model_fields}
    built = constructed(TreatmentOption, dict(fields))
    assert built == TreatmentOption.model_construct(**fields)
    assert built.model_fields_set == set(TreatmentOption.model_fields)
    partial = {k: v for k, v in fields.items() if k != "notes"}
    fallback = constructed(TreatmentOption, partial)
    assert fallback.notes == ()
    assert fallback.model_fields_set == set(partial)


def test_supportive_care_is_told_apart_from_the_anticancer_choices(rulebase: Rulebase) -> None:
    # Issue 21: bone-modifying drugs, palliative and complementary care are given alongside
    # the anticancer choices (the sources' words: "along with your other treatments"), and
    # the field says so in the result, its JSON and its schema; the ranks keep their meaning.
    result = rulebase.evaluate(PROFILE)
    roles = {o.category: o.role for o in result.options}
    assert roles["hormone_therapy"] == "anticancer"
    assert roles["bone_modifying_therapy"] == "supportive"
    assert roles["palliative_care"] == "supportive"
    assert roles.get("clinical_trial", "anticancer") == "anticancer"
    assert [o.rank for o in result.options] == sorted(o.rank for o in result.options)
    assert '"role":"supportive"' in result.model_dump_json()
    assert Evaluation.model_validate_json(result.model_dump_json()) == result
    schema = Evaluation.model_json_schema()
    assert schema["$defs"]["TreatmentOption"]["properties"]["role"]["enum"] == [
        "anticancer",
        "supportive",
    ]
