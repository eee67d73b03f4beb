"""The patient profile: the public contract of the input."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mbc_rules import PatientProfile, Rulebase, UnknownAgentError
from mbc_rules.profile import TEST_RESULT_FIELDS

STATUS_FIELDS = [*TEST_RESULT_FIELDS, "menopausal_status", "sex", "brain_metastases"]


def test_every_status_defaults_to_unknown() -> None:
    profile = PatientProfile()
    for field in STATUS_FIELDS:
        assert getattr(profile, field) == "unknown", field
    assert profile.de_novo is None
    assert profile.good_general_health is None
    assert profile.metastatic_sites == []


def error_fields(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        PatientProfile.model_validate(data)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"er_stauts": "positive"}, "er_stauts"),
        ({"er_status": "HER2+"}, "er_status"),
        ({"her2_status": "3"}, "her2_status"),
        ({"menopausal_status": "post"}, "menopausal_status"),
        ({"metastatic_sites": ["bones"]}, "metastatic_sites.0"),
        ({"metastatic_sites": "bone"}, "metastatic_sites"),
        ({"complications": ["cough"]}, "complications.0"),
        ({"de_novo": "yes"}, "de_novo"),
        (
            {"prior_therapies": [{"agent": "letrozole", "outcome": "failed"}]},
            "prior_therapies.0.outcome",
        ),
        (
            {"prior_therapies": [{"agent": "letrozole", "setting": "adjuvant"}]},
            "prior_therapies.0.setting",
        ),
    ],
)
def test_a_typo_or_impossible_value_names_the_field(data: dict[str, Any], field: str) -> None:
    assert field in error_fields(data)


def test_brand_and_generic_names_in_any_case_read_as_the_generic_id() -> None:
    profile = PatientProfile.model_validate(
        {
            "prior_therapies": [
                {"agent": "FEMARA", "outcome": "progressed"},
                {"agent": "Herceptin", "outcome": "completed", "setting": "early"},
                {"agent": "ado-trastuzumab emtansine"},
            ]
        }
    )
    assert profile.prior_therapies is not None
    assert [t.agent for t in profile.prior_therapies] == [
        "letrozole",
        "trastuzumab",
        "ado_trastuzumab_emtansine",
    ]
    assert profile.prior_therapies[2].outcome == "unknown"
    assert profile.prior_therapies[2].setting == "metastatic"


def test_an_unknown_drug_suggests_the_nearest_names() -> None:
    with pytest.raises(ValidationError) as caught:
        PatientProfile.model_validate({"prior_therapies": [{"agent": "letrozol"}]})
    (error,) = caught.value.errors()
    assert error["loc"] == ("prior_therapies", 0, "agent")
    assert "letrozole" in error["msg"]
    assert isinstance(error["ctx"]["error"], UnknownAgentError)


def test_contradictions_are_rejected() -> None:
    with pytest.raises(ValidationError, match="male"):
        PatientProfile(sex="male", menopausal_status="postmenopausal")
    with pytest.raises(ValidationError, match="both as ongoing and as progressed"):
        PatientProfile.model_validate(
            {
                "prior_therapies": [
                    {"agent": "letrozole", "outcome": "ongoing"},
                    {"agent": "Femara", "outcome": "progressed"},
                ]
            }
        )
    with pytest.raises(ValidationError, match="listed twice"):
        PatientProfile.model_validate({"metastatic_sites": ["bone", "bone"]})
    with pytest.raises(ValidationError, match="not in metastatic_sites"):
        PatientProfile.model_validate({"metastatic_sites": ["bone"], "resectable_sites": ["liver"]})


def test_oversized_input_is_rejected() -> None:
    with pytest.raises(ValidationError):
        PatientProfile.model_validate({"patient_id": "x" * 10_000})
    with pytest.raises(ValidationError):
        PatientProfile.model_validate({"prior_therapies": [{"agent": "letrozole"}] * 1000})


def test_the_model_round_trips_through_json() -> None:
    profile = PatientProfile.model_validate(
        {
            "er_status": "positive",
            "prior_therapies": [{"agent": "Arimidex", "outcome": "progressed"}],
        }
    )
    assert PatientProfile.model_validate_json(profile.model_dump_json()) == profile


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("Positive", "positive"),
        ("POS", "positive"),
        ("+", "positive"),
        (" neg ", "negative"),
        ("-", "negative"),
        ("Unknown", "unknown"),
    ],
)
def test_status_reads_the_common_clinical_spellings(given: str, read: str) -> None:
    profile = PatientProfile.model_validate({"er_status": given, "her2_status": given})
    assert profile.er_status == profile.her2_status == read


@pytest.mark.parametrize("bad", ["HER2+", "3", 3, "positve", None, True])
def test_every_status_error_shows_the_bad_value(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        PatientProfile.model_validate({"pr_status": bad})
    (error,) = caught.value.errors()
    assert error["loc"] == ("pr_status",)
    assert repr(bad) in error["msg"]


def test_sex_and_menopause_read_in_any_case() -> None:
    profile = PatientProfile.model_validate({"sex": "F", "menopausal_status": "Post-menopausal"})
    assert (profile.sex, profile.menopausal_status) == ("female", "postmenopausal")


def test_drug_spellings_are_remembered_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from mbc_rules import vocabulary as module

    bundled = Rulebase.bundled(engine="compiled").vocabulary
    fresh = module.Vocabulary.of(bundled.agents.values())
    monkeypatch.setattr(module, "_MAX_SPELLINGS", 3)
    spellings = ["Femara", "femara", "LETROZOLE", " letrozole ", "Letrozole"]
    assert {fresh.resolve(name).id for name in spellings} == {"letrozole"}
    assert list(fresh._spellings) == spellings[:3]
    assert fresh.known("no such drug") is None
    assert "no such drug" not in fresh._spellings
    with pytest.raises(UnknownAgentError):
        fresh.resolve("Femarra")
