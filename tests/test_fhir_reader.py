"""The FHIR reader, code path by code path, on hand-made mCODE STU1 to STU4 resources."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from mbc_rules import FhirReadError, FhirReading, evaluate_frame, read_fhir, read_fhir_many
from mbc_rules.cli import main
from mbc_rules.fhir import records

from .conftest import ROOT
from .fhir_builders import (
    LOINC,
    SNOMED,
    breast_cancer,
    bundle,
    coded,
    concept,
    condition,
    extension,
    interpretation,
    medication,
    metastatic_bundle,
    observation,
    patient,
    quantity,
    variant,
)

ER, PR, HER2_IHC, HER2_FISH, HER2_RATIO = "40556-3", "40557-1", "85319-2", "85318-4", "49683-6"


def read(*resources: dict[str, Any], **options: Any) -> FhirReading:
    return read_fhir(metastatic_bundle(*resources), **options)


def messages(reading: FhirReading) -> str:
    return "\n".join(str(w) for w in reading.warnings)


# --- tumour markers: each value style ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (coded(LOINC, "LA6576-8"), "positive"),  # LOINC answer
        (coded(LOINC, "LA6577-6"), "negative"),
        (coded(SNOMED, "10828004"), "positive"),  # SNOMED qualifier (STU1)
        (coded(SNOMED, "260385009"), "negative"),
        (interpretation("POS"), "positive"),  # interpretation only
        (interpretation("NEG"), "negative"),
        (quantity(40), "positive"),  # percentage of stained cells
        (quantity(1), "positive"),
        (quantity(0.5), "negative"),
        ({"valueString": "Positive"}, "positive"),
        ({"valueString": "0.5 %"}, "negative"),
        ({"valueCodeableConcept": {"text": "Negative"}}, "negative"),
    ],
)
def test_er_value_styles(value: dict[str, Any], expected: str) -> None:
    reading = read(observation("er", ER, **value))
    assert reading.profile.er_status == expected
    assert reading.provenance["er_status"] == ("Observation/er",)


@pytest.mark.parametrize("code", ["85337-4", "40556-3", "16112-5"])
def test_er_codes_of_every_mcode_version(code: str) -> None:
    assert read(observation("er", code, **coded(LOINC, "LA6576-8"))).profile.er_status == "positive"


@pytest.mark.parametrize("code", ["85339-0", "40557-1", "16113-3"])
def test_pr_codes(code: str) -> None:
    assert (
        read(observation("pr", code, **coded(SNOMED, "260385009"))).profile.pr_status == "negative"
    )


def test_value_and_interpretation_that_disagree_are_not_read() -> None:
    reading = read(observation("er", ER, **coded(LOINC, "LA6576-8"), **interpretation("NEG")))
    assert reading.profile.er_status == "unknown"
    assert "contradicts itself" in messages(reading)


def test_a_non_percentage_number_is_not_read_as_a_receptor_status() -> None:
    reading = read(observation("er", ER, **quantity(120, "fmol/mg")))
    assert reading.profile.er_status == "unknown"
    assert "not a percentage" in messages(reading)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueString": "3+"}, "positive"),
        ({"valueString": "1+"}, "negative"),
        ({"valueInteger": 0}, "negative"),
        ({"valueCodeableConcept": {"text": "3+"}}, "positive"),
        (coded(SNOMED, "10828004"), "positive"),
    ],
)
def test_her2_ihc_scores(value: dict[str, Any], expected: str) -> None:
    assert read(observation("her2", HER2_IHC, **value)).profile.her2_status == expected


def test_her2_ihc_2_plus_alone_is_unknown_and_asks_for_ish() -> None:
    reading = read(observation("her2", HER2_IHC, valueString="2+"))
    assert reading.profile.her2_status == "unknown"
    assert "in-situ hybridisation" in messages(reading)


@pytest.mark.parametrize(
    ("ratio", "expected"), [(2.3, "positive"), (2.0, "positive"), (1.4, "negative")]
)
def test_her2_ihc_2_plus_is_settled_by_the_fish_ratio(ratio: float, expected: str) -> None:
    reading = read(
        observation("ihc", HER2_IHC, valueString="2+"),
        observation("fish", HER2_RATIO, **quantity(ratio, "{ratio}")),
    )
    assert reading.profile.her2_status == expected
    assert reading.provenance["her2_status"] == ("Observation/fish",)
    assert "in-situ" not in messages(reading)


def test_her2_fish_qualitative() -> None:
    reading = read(observation("fish", HER2_FISH, **coded(LOINC, "LA6576-8")))
    assert reading.profile.her2_status == "positive"


def test_pdl1_qualitative_and_numbers() -> None:
    assert read(observation("p", "83052-1", **coded(LOINC, "LA6576-8"))).profile.pdl1_status == (
        "positive"
    )
    reading = read(observation("p", "83053-9", **quantity(30)))
    assert reading.profile.pdl1_status == "unknown"
    assert "cut-off depends on the assay" in messages(reading)


def test_an_unknown_code_whose_text_names_a_marker_is_reported() -> None:
    odd = observation("odd", "99999-9")
    odd["code"]["text"] = "HER2 receptor"
    reading = read({**odd, **coded(SNOMED, "10828004")})
    assert reading.profile.her2_status == "unknown"
    assert "Observation/odd" in messages(reading)


# --- genomics: germline versus somatic, both HGNC system URIs --------------------------------


@pytest.mark.parametrize("system", ["http://www.genenames.org/geneId", "http://www.genenames.org"])
def test_germline_brca_is_read_with_either_hgnc_system(system: str) -> None:
    reading = read(variant("v", "HGNC:1101", source="LA6683-2", hgnc_system=system))
    assert reading.profile.brca_status == "positive"
    assert reading.provenance["brca_status"] == ("Observation/v",)


def test_somatic_brca_does_not_set_the_germline_field() -> None:
    reading = read(variant("v", "HGNC:1100", source="LA6684-0"))
    assert reading.profile.brca_status == "unknown"
    assert "somatic" in messages(reading)


def test_brca_without_a_source_class_is_not_read() -> None:
    reading = read(variant("v", "HGNC:1100", source=None))
    assert reading.profile.brca_status == "unknown"
    assert "germline or somatic" in messages(reading)


def test_brca_negative_needs_both_genes() -> None:
    one = read(variant("v1", "HGNC:1100", source="LA6683-2", present=False))
    assert one.profile.brca_status == "unknown"
    assert "BRCA2 result is missing" in messages(one)
    both = read(
        variant("v1", "HGNC:1100", source="LA6683-2", present=False),
        variant("v2", "HGNC:1101", source="LA6683-2", present=False),
    )
    assert both.profile.brca_status == "negative"


def test_pik3ca_somatic_variant_and_a_panel_that_does_not_mention_it() -> None:
    assert read(variant("v", "HGNC:8975", source="LA6684-0")).profile.pik3ca_status == "positive"
    # A BRCA panel says nothing about PIK3CA.
    reading = read(variant("v", "HGNC:1100", source="LA6683-2"))
    assert reading.profile.pik3ca_status == "unknown"
    assert "pik3ca_status" not in reading.provenance


def test_a_variant_of_uncertain_significance_is_not_a_mutation() -> None:
    reading = read(variant("v", "HGNC:8975", source="LA6684-0", significance="LA26333-7"))
    assert reading.profile.pik3ca_status == "unknown"
    assert "uncertain significance" in messages(reading)


# --- conflicts -----------------------------------------------------------------------------


def test_er_positive_and_negative_leave_it_unknown_naming_both() -> None:
    reading = read(
        observation("er1", ER, date="2019-01-01", **coded(SNOMED, "10828004")),
        observation("er2", ER, date="2021-01-01", **coded(SNOMED, "260385009")),
    )
    assert reading.profile.er_status == "unknown"
    (conflict,) = reading.conflicts
    assert conflict.field == "er_status"
    assert conflict.resources == ("Observation/er1", "Observation/er2")


def test_latest_policy_takes_the_latest_and_still_warns() -> None:
    reading = read(
        observation("er1", ER, date="2019-01-01", **coded(SNOMED, "10828004")),
        observation("er2", ER, date="2021-01-01", **coded(SNOMED, "260385009")),
        conflicts="latest",
    )
    assert reading.profile.er_status == "negative"
    assert reading.conflicts == ()
    assert reading.provenance["er_status"] == ("Observation/er2",)
    assert "the latest (2021-01-01), negative, is used over the older (2019-01-01)" in messages(
        reading
    )


def test_latest_policy_without_dates_still_reports_the_conflict() -> None:
    one = observation("er1", ER, **coded(SNOMED, "10828004"))
    two = observation("er2", ER, **coded(SNOMED, "260385009"))
    del one["effectiveDateTime"], two["effectiveDateTime"]
    reading = read(one, two, conflicts="latest")
    assert reading.profile.er_status == "unknown"
    assert [c.field for c in reading.conflicts] == ["er_status"]


def test_stage_iv_beside_cm0_is_a_conflict() -> None:
    reading = read_fhir(
        bundle(
            patient(),
            breast_cancer(),
            observation(
                "stage", "21908-9", valueCodeableConcept=concept("http://cancerstaging.org", "4")
            ),
            observation(
                "m", "21907-1", valueCodeableConcept=concept("http://cancerstaging.org", "cM0")
            ),
        )
    )
    (conflict,) = reading.conflicts
    assert conflict.field == "metastatic_disease"
    assert reading.metastatic is None
    assert set(conflict.resources) == {"Observation/stage", "Observation/m"}
    assert "does not establish metastatic disease" in messages(reading)


def test_stu4_snomed_staging_establishes_metastatic_disease() -> None:
    stage = observation("s", "399537006", system=SNOMED, **coded(SNOMED, "1222837003"))
    m1 = observation("m", "399387003", system=SNOMED, **coded(SNOMED, "1229903009"))
    reading = read_fhir(bundle(patient(), breast_cancer(), stage, m1))
    assert "metastatic disease" not in messages(reading)
    assert reading.conflicts == ()


def test_invalid_patient_and_menopause_combination_is_a_conflict_not_a_crash() -> None:
    menopause = observation("mp", "161712005", system=SNOMED, **coded(SNOMED, "307429007"))
    reading = read_fhir(
        bundle(patient("male"), breast_cancer(), condition("b", "94222008"), menopause)
    )
    assert reading.profile.menopausal_status == "unknown"
    assert [c.field for c in reading.conflicts] == ["menopausal_status"]


# --- sites, primary cancer, menopause, sex ------------------------------------------------------


def test_metastatic_neoplasm_with_body_site() -> None:
    liver = condition(
        "met", "128462008", bodySite=[concept(SNOMED, "10200004"), concept(SNOMED, "12738006")]
    )
    reading = read_fhir(bundle(patient(), breast_cancer(), liver))
    assert reading.profile.metastatic_sites == ["brain", "liver"]


def test_vertebral_metastasis_is_spine_and_bone() -> None:
    reading = read_fhir(bundle(patient(), breast_cancer(), condition("v", "94602001")))
    assert reading.profile.metastatic_sites == ["bone", "spine"]


def test_axillary_nodes_are_not_distant_spread() -> None:
    reading = read_fhir(
        bundle(patient(), breast_cancer(), condition("ax", "C77.3", system="icd10"))
    )
    assert reading.profile.metastatic_sites == []
    assert "regional nodes" in messages(reading)
    assert "does not establish metastatic disease" in messages(reading)


def test_a_lung_primary_is_warned_about() -> None:
    lung = condition("lung", "C34.90", system="http://hl7.org/fhir/sid/icd-10-cm")
    reading = read_fhir(bundle(patient(), lung, condition("b", "94222008")))
    assert "not breast cancer" in messages(reading)
    assert any("Condition/lung" in w.resources for w in reading.warnings)


@pytest.mark.parametrize(
    ("code", "expected"), [("309606002", "premenopausal"), ("307429007", "postmenopausal")]
)
def test_menopausal_status_as_ichom_codes_it(code: str, expected: str) -> None:
    menopause = observation("mp", "161712005", system=SNOMED, **coded(SNOMED, code))
    reading = read(menopause)
    assert reading.profile.menopausal_status == expected
    assert reading.provenance["menopausal_status"] == ("Observation/mp",)


def test_sex_other_is_unknown() -> None:
    reading = read_fhir(bundle(patient("other"), breast_cancer(), condition("b", "94222008")))
    assert reading.profile.sex == "unknown"


# --- medications: levels of RxNorm, resource kinds, why they stopped, setting ------------------


@pytest.mark.parametrize(
    ("code", "agent"),
    [
        ("1601374", "palbociclib"),  # ingredient (vocabulary)
        ("1873984", "ribociclib"),  # brand Kisqali
        ("199224", "anastrozole"),  # clinical drug, anastrozole 1 MG oral tablet
    ],
)
def test_rxnorm_levels(code: str, agent: str) -> None:
    reading = read(medication("m", code))
    assert [t.agent for t in reading.profile.prior_therapies or []] == [agent]


def test_rxnorm_by_its_oid() -> None:
    statement = medication("m", "282357")
    statement["medicationCodeableConcept"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.88"
    assert [t.agent for t in read(statement).profile.prior_therapies or []] == ["fulvestrant"]


@pytest.mark.parametrize(
    "kind", ["MedicationStatement", "MedicationRequest", "MedicationAdministration"]
)
def test_every_medication_resource_kind(kind: str) -> None:
    reading = read(medication("m", "282357", kind=kind))
    assert [t.agent for t in reading.profile.prior_therapies or []] == ["fulvestrant"]


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [("266721009", "progressed"), ("407563006", "intolerant"), ("182992009", "completed")],
)
@pytest.mark.parametrize(
    "shape", ["mcode-termination-reason", "mcode-treatment-termination-reason", "statusReason"]
)
def test_why_a_drug_stopped_in_stu1_stu2_and_stu3_shapes(
    reason: str, outcome: str, shape: str
) -> None:
    if shape == "statusReason":
        med = medication("m", "72965", status="stopped", statusReason=[concept(SNOMED, reason)])
    else:
        med = medication(
            "m", "72965", status="stopped", extension=[extension(shape, SNOMED, reason)]
        )
    (therapy,) = read(med).profile.prior_therapies or []
    assert (therapy.agent, therapy.outcome) == ("letrozole", outcome)


def test_an_active_drug_is_ongoing() -> None:
    (therapy,) = (
        read(medication("m", "1601374", status="active", end=None)).profile.prior_therapies or []
    )
    assert therapy.outcome == "ongoing"


def test_disease_worsening_while_a_drug_ran_means_it_progressed() -> None:
    status = observation("ds", "97509-4", date="2020-10-01", **coded(SNOMED, "271299001"))
    reading = read(medication("m", "1601374", start="2020-07-01", end="2021-01-01"), status)
    (therapy,) = reading.profile.prior_therapies or []
    assert therapy.outcome == "progressed"
    assert "Observation/ds" in reading.provenance["prior_therapies[0]"]


def test_stu1_disease_status_code_and_worsening_with_no_drug_running() -> None:
    status = observation("ds", "88040-1", date="2022-05-01", **coded(SNOMED, "271299001"))
    reading = read(medication("m", "1601374", start="2020-07-01", end="2021-01-01"), status)
    (therapy,) = reading.profile.prior_therapies or []
    assert therapy.outcome == "unknown"
    assert "not tied to a treatment" in messages(reading)


def test_setting_from_intent_and_from_dates() -> None:
    curative = medication(
        "cur", "72965", extension=[extension("mcode-treatment-intent", SNOMED, "373808002")]
    )
    before = medication("early", "224905", start="2019-01-01", end="2019-06-01")
    after = medication("late", "282357", start="2020-08-01")
    settings = {
        t.agent: t.setting for t in read(curative, before, after).profile.prior_therapies or []
    }
    assert settings == {"letrozole": "early", "trastuzumab": "early", "fulvestrant": "metastatic"}


def test_two_cdk46_inhibitors_at_once_are_warned_about() -> None:
    reading = read(
        medication("a", "1601374", status="active", start="2020-07-01", end=None),
        medication("b", "1873916", status="active", start="2020-08-01", end=None),
    )
    assert "running at the same time" in messages(reading)
    assert "drug_overlap" in {w.kind for w in reading.warnings}
    assert {t.agent for t in reading.profile.prior_therapies or []} == {"palbociclib", "ribociclib"}


def test_an_unmapped_drug_code_is_warned_about_and_history_stays_unknown() -> None:
    reading = read(medication("m", "349472", display="gefitinib 250 MG"))
    assert "RxNorm 349472" in messages(reading)
    assert "prior_therapies" not in reading.profile.model_fields_set


def test_no_medication_resources_leave_history_unknown() -> None:
    reading = read()
    assert "prior_therapies" not in reading.profile.model_fields_set
    assert "no medication resources" in messages(reading)


def test_medication_reference_to_a_medication_resource() -> None:
    drug = {
        "resourceType": "Medication",
        "id": "drug",
        "code": concept("http://www.nlm.nih.gov/research/umls/rxnorm", "282357"),
    }
    statement = medication("m", "0")
    del statement["medicationCodeableConcept"]
    statement["medicationReference"] = {"reference": "Medication/drug"}
    reading = read(drug, statement)
    assert [t.agent for t in reading.profile.prior_therapies or []] == ["fulvestrant"]


def test_not_taken_is_not_history() -> None:
    reading = read(medication("m", "282357", status="not-taken"))
    assert "not given" in messages(reading)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{not json", "not JSON"),
        ('{"resourceType": "Patient", "id": "x"}', "not a FHIR Bundle"),
        ('{"resourceType": "Bundle", "type": "collection", "entry": []}', "no resources"),
        ("[]", "no resources"),
        (42, "not a FHIR Bundle"),
        (b"\xff\xfe{", "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_input_is_a_clear_error(source: object, words: str) -> None:
    with pytest.raises(FhirReadError, match=words):
        read_fhir(source)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FhirReadError, match="cannot read"):
        read_fhir(tmp_path / "absent.json")


def test_several_patients_need_patient_and_a_wrong_one_is_named() -> None:
    two = bundle(patient(pid="p1"), patient(pid="p2"))
    with pytest.raises(FhirReadError, match="2 patients"):
        read_fhir(two)
    with pytest.raises(FhirReadError, match="no patient 'p9'"):
        read_fhir(two, patient="p9")
    assert read_fhir(two, patient="p2").profile.patient_id == "p2"


def test_broken_entries_are_warnings_and_reading_goes_on() -> None:
    record = metastatic_bundle(observation("er", ER, **coded(SNOMED, "10828004")))
    record["entry"] += ["junk", {"resource": {"no": "type"}}]
    odd = observation("odd id!", ER, **coded(SNOMED, "10828004"))
    record["entry"].append({"resource": odd})
    reading = read_fhir(record)
    assert reading.profile.er_status == "positive"
    text = messages(reading)
    assert "entry 4 is not an object" in text
    assert "not a valid FHIR id" in text


def test_too_many_entries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "MAX_ENTRIES", 10)
    with pytest.raises(FhirReadError, match="over the 10-entry limit"):
        read_fhir(bundle(*[patient(pid=f"p{i}") for i in range(11)]))


def test_a_50000_entry_bundle_is_read() -> None:
    noise = [observation(f"hb{i}", "718-7", **quantity(12.0, "g/dL")) for i in range(50_000)]
    reading = read(observation("er", ER, **coded(SNOMED, "10828004")), *noise)
    assert reading.profile.er_status == "positive"


def test_source_forms_dict_text_path_and_array(tmp_path: Path) -> None:
    record = metastatic_bundle(observation("er", ER, **coded(SNOMED, "10828004")))
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(record))
    array = [entry["resource"] for entry in record["entry"]]
    for source in (record, json.dumps(record), path, str(path), array, json.dumps(array)):
        assert read_fhir(source).profile.er_status == "positive"


def test_unknown_conflict_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="conflicts must be"):
        read_fhir(metastatic_bundle(), conflicts="first")


# --- many ------------------------------------------------------------------------------------


def test_read_many_frame_evaluates_and_bad_sources_are_error_rows() -> None:
    good = metastatic_bundle(observation("er", ER, **coded(SNOMED, "10828004")))
    frames = read_fhir_many({"good": good, "bad": "{oops"})
    assert list(frames.profiles.index) == ["good"]
    assert frames.profiles.loc["good", "er_status"] == "positive"
    errors = frames.problems[frames.problems["kind"] == "error"]
    assert list(errors["source"]) == ["bad"]
    result = evaluate_frame(frames.profiles)
    assert len(result.errors) == 0
    assert set(result.long["patient_id"]) == {"p1"}


def test_icd10_codes_with_or_without_their_dot() -> None:
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    for code in ("C79.51", "C7951"):
        reading = read_fhir(bundle(patient(), breast_cancer(), condition("b", code, system=icd)))
        assert reading.profile.metastatic_sites == ["bone"], code


def test_a_provisional_metastasis_is_not_read() -> None:
    status = concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "provisional")
    reading = read_fhir(
        bundle(patient(), breast_cancer(), condition("b", "94222008", verificationStatus=status))
    )
    assert reading.profile.metastatic_sites == []
    assert "not confirmed" in messages(reading)


def test_a_cancer_of_the_breast_by_body_site_is_breast_cancer() -> None:
    histology = extension("mcode-histology-morphology-behavior", SNOMED, "413448000")
    primary = condition(
        "primary", "363346000", bodySite=[concept(SNOMED, "80248007")], extension=[histology]
    )
    reading = read_fhir(bundle(patient(), primary, condition("b", "94222008")))
    assert "not breast cancer" not in messages(reading)


def test_a_her2_panel_is_read_from_its_components() -> None:
    panel = observation(
        "panel",
        "85319-2",
        component=[
            {"code": concept(LOINC, HER2_RATIO), **quantity(2.6, "{ratio}")},
        ],
    )
    reading = read(panel)
    assert reading.profile.her2_status == "positive"
    assert "no value" not in messages(reading)


def test_a_code_that_is_not_a_codeable_concept_is_a_validation_warning() -> None:
    odd = observation("odd", ER)
    odd["code"] = "40556-3"
    reading = read(odd, observation("er", ER, **coded(SNOMED, "10828004")))
    assert "Observation/odd fails validation: code is not a CodeableConcept" in messages(reading)
    assert reading.profile.er_status == "positive"


def test_cli_evaluate_json_keeps_stdout_json_and_problems_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    bundle_path = ROOT / "examples" / "fhir" / "patient-bundle.json"
    assert main(["evaluate", str(bundle_path), "--json"], out, io.StringIO()) == 0
    result = json.loads(out.getvalue())
    assert result["profile"]["pik3ca_status"] == "positive"
    assert "warning: staging before the metastases" in capsys.readouterr().err


def test_an_ajcc_stage_code_not_listed_is_read_from_its_display() -> None:
    stage = observation(
        "s",
        "399537006",
        system=SNOMED,
        valueCodeableConcept=concept(
            SNOMED, "1222999999", "American Joint Committee on Cancer stage IVB"
        ),
    )
    reading = read_fhir(bundle(patient(), breast_cancer(), stage))
    assert reading.metastatic is True
    assert "assumption" in {w.kind for w in reading.warnings}


def test_read_many_gives_a_row_per_patient_named_only_by_subjects() -> None:
    one = observation("er1", ER, **coded(SNOMED, "10828004"))
    two = observation("er2", ER, **coded(SNOMED, "260385009"))
    two["subject"] = {"reference": "Patient/p2"}
    frames = read_fhir_many({"two": bundle(one, two)})
    assert sorted(frames.profiles["er_status"]) == ["negative", "positive"]
    assert list(frames.profiles.index) == ["two#Patient/p1", "two#Patient/p2"]
    assert not (frames.problems["kind"] == "error").any()
