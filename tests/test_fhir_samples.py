"""Every public FHIR sample in ../shared/fhir-samples/ reads as its README describes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mbc_rules import FhirReadError, FhirReading, read_fhir, read_fhir_many
from mbc_rules.cli import main
from mbc_rules.profile import TEST_RESULT_FIELDS

from .conftest import ROOT


def _samples() -> Path | None:
    # ../shared beside the repository; a worktree sits one level deeper, so look upwards.
    for parent in (ROOT, *ROOT.parents):
        candidate = parent / "shared" / "fhir-samples"
        if candidate.is_dir():
            return candidate
    return None


SAMPLES = _samples()
pytestmark = pytest.mark.skipif(SAMPLES is None, reason="../shared/fhir-samples is absent")


def sample(prefix: str) -> Path:
    assert SAMPLES is not None
    (path,) = SAMPLES.glob(f"{prefix}_*.json")
    return path


def warned(reading: FhirReading, words: str) -> list[str]:
    return [str(w) for w in reading.warnings if words in w.message]


def test_every_sample_file_is_covered_here() -> None:
    assert SAMPLES is not None
    names = sorted(p.name[:2] for p in SAMPLES.glob("*.json"))
    assert names == ["01", "03", "04", "05", "06"]


def test_01_metastatic_bone_er_positive_with_two_drugs_of_unknown_outcome() -> None:
    reading = read_fhir(sample("01"))
    profile = reading.profile
    assert profile.patient_id == "utsw-1"
    assert profile.sex == "female"
    assert (profile.er_status, profile.pr_status, profile.her2_status) == (
        "positive",
        "negative",
        "negative",
    )
    assert profile.metastatic_sites == ["bone"]
    therapies = {(t.agent, t.outcome, t.setting) for t in profile.prior_therapies or []}
    assert therapies == {
        ("fulvestrant", "unknown", "metastatic"),
        ("abemaciclib", "unknown", "metastatic"),
    }
    # Nothing the README says is absent is invented.
    for field in ("brca_status", "pik3ca_status", "pdl1_status", "menopausal_status"):
        assert getattr(profile, field) == "unknown", field
    assert reading.provenance["er_status"] == ("Observation/observationId-1",)
    assert reading.provenance["metastatic_sites"] == ("Condition/conditionId-2",)
    assert reading.provenance["prior_therapies[0]"] == ("MedicationStatement/medicationId-1",)
    assert reading.conflicts == ()
    assert not warned(reading, "metastatic disease")
    assert not warned(reading, "not breast cancer")
    assert (reading.breast_cancer, reading.metastatic) == (True, True)


def test_03_two_patients_need_a_choice() -> None:
    with pytest.raises(FhirReadError, match="2 patients") as caught:
        read_fhir(sample("03"))
    assert "mCODEPatientExample01" in str(caught.value)
    assert "mCODEPatientExample02" in str(caught.value)


def test_03_lung_cancer_is_reported_not_evaluated_silently() -> None:
    reading = read_fhir(sample("03"), patient="mCODEPatientExample01")
    profile = reading.profile
    (not_breast,) = warned(reading, "not breast cancer")
    assert "Condition/mCODEPrimaryCancerConditionExample01" in not_breast
    assert reading.breast_cancer is False
    assert [w.kind for w in reading.warnings if "not breast cancer" in w.message] == [
        "not_breast_cancer"
    ]
    assert profile.sex == "male"
    # The germline BRCA1 variant is read; the somatic STK11 one says nothing the rules use.
    assert profile.brca_status == "positive"
    assert reading.provenance["brca_status"] == ("Observation/mCODECancerGeneticVariantExample02",)
    assert profile.pik3ca_status == "unknown"
    assert profile.metastatic_sites == ["brain"]
    # cM0 at diagnosis, brain metastasis a month later: spread after diagnosis, both named.
    (later,) = warned(reading, "spread after diagnosis")
    assert "Observation/mCODETNMClinicalDistantMetastasesCategoryExample01" in later
    assert "Condition/mCODESecondaryCancerConditionExample01" in later
    # Gefitinib is no drug of the rules: reported, not read, and the history stays unknown.
    assert warned(reading, "RxNorm 349472")
    assert "prior_therapies" not in profile.model_fields_set


def test_03_the_other_patient_holds_nothing() -> None:
    reading = read_fhir(sample("03"), patient="Patient/mCODEPatientExample02")
    assert reading.profile.sex == "female"
    assert reading.profile.er_status == "unknown"
    assert warned(reading, "no breast cancer diagnosis")


def test_04_bare_array_not_metastatic_receptors_read() -> None:
    reading = read_fhir(sample("04"))
    profile = reading.profile
    assert (profile.er_status, profile.pr_status, profile.her2_status) == (
        "positive",
        "negative",
        "negative",
    )
    (not_metastatic,) = warned(reading, "does not establish metastatic disease")
    assert "cM0" in not_metastatic
    assert (reading.breast_cancer, reading.metastatic) == (True, False)
    assert "not_metastatic" in {w.kind for w in reading.warnings}
    assert "unmapped_drug" in {w.kind for w in reading.warnings}
    assert profile.metastatic_sites == []
    therapies = {(t.agent, t.setting) for t in profile.prior_therapies or []}
    assert therapies == {("paclitaxel", "early"), ("anastrozole", "early")}
    assert len(reading.provenance["prior_therapies[0]"]) == 16  # 16 paclitaxel statements
    assert warned(reading, "RxNorm 314231")  # simvastatin: reported, not read
    assert reading.conflicts == ()


def test_05_dirty_data_is_reported_not_guessed() -> None:
    reading = read_fhir(sample("05"))
    profile = reading.profile
    her2 = "Observation/95d74cb0-15d5-44dd-a289-b622bfed80be"
    assert profile.her2_status == "unknown"  # wrong LOINC code: not read by its text
    assert any(her2 in w.resources and "34566" in w.message for w in reading.warnings)
    assert any(her2 in w.resources and "value[x]" in w.message for w in reading.warnings)
    assert warned(reading, "appears 4 times")  # the same Condition four times
    assert "invalid_entry" in {w.kind for w in reading.warnings}
    # A code meaning zoledronic acid under the text "Paclitaxel" is not read either way.
    assert warned(reading, "zoledronic_acid")
    assert [t.agent for t in profile.prior_therapies or []] == ["paclitaxel"]
    assert warned(reading, "does not establish metastatic disease")


def test_06_noise_leaves_everything_unknown() -> None:
    reading = read_fhir(sample("06"))
    profile = reading.profile
    for field in (*TEST_RESULT_FIELDS, "menopausal_status"):
        assert getattr(profile, field) == "unknown", field
    assert profile.metastatic_sites == []
    assert "prior_therapies" not in profile.model_fields_set
    assert warned(reading, "no medication resources")
    assert warned(reading, "does not establish metastatic disease")
    assert set(reading.provenance) == {"sex"}
    assert (reading.breast_cancer, reading.metastatic) == (True, None)
    assert "unknown_history" in {w.kind for w in reading.warnings}


def test_read_many_gives_a_frame_and_a_problem_table() -> None:
    assert SAMPLES is not None
    frames = read_fhir_many(sorted(SAMPLES.glob("0*.json")))
    # 03 holds two patients: one row each; every other file one row.
    assert len(frames.profiles) == 6
    row = frames.profiles.loc[str(sample("01"))]
    assert row["er_status"] == "positive"
    problems = frames.problems
    assert set(problems["kind"]) <= {"conflict", "warning", "error"}
    assert (problems["message"].str.contains("not breast cancer")).any()
    assert not (problems["kind"] == "error").any()


def test_cli_evaluate_a_bundle_prints_the_problems_above_the_answer() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["evaluate", str(sample("04"))], out, err) == 0
    text = out.getvalue()
    warning = text.index("warning: the record does not establish metastatic disease")
    assert warning < text.index("hormone therapy")


def test_cli_read_names_each_fields_resource() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["read", str(sample("01"))], out, err) == 0
    line = next(x for x in out.getvalue().splitlines() if x.startswith("er_status"))
    assert "positive" in line
    assert "Observation/observationId-1" in line


def test_cli_several_patients_is_a_one_line_error() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["read", str(sample("03"))], out, err) == 1
    assert "--patient" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_cli_explain_takes_a_bundle() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["explain", str(sample("01")), "fulvestrant"], out, err) == 0
    assert "fulvestrant" in out.getvalue().lower()
