"""Concordance over FHIR R4 records: the treatment given next read from the medications
(docs/cohort-audits.md, "From FHIR records")."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import mbc_rules
from mbc_rules import Rulebase
from mbc_rules.cli import main

from .conftest import ROOT
from .fhir_builders import (
    SNOMED,
    breast_cancer,
    bundle,
    coded,
    concept,
    medication,
    metastatic_bundle,
    observation,
    patient,
)

PROGRESSED = [concept(SNOMED, "266721009")]
RECEPTORS = (
    observation("er", "40556-3", **coded(SNOMED, "10828004")),
    observation("pr", "40557-1", **coded(SNOMED, "10828004")),
    observation("her2", "48676-1", **coded(SNOMED, "260385009")),
    observation("meno", "161712005", system=SNOMED, **coded(SNOMED, "307429007")),
)


def of(pid: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` about patient ``pid`` (the builders write p1)."""
    out: dict[str, Any] = json.loads(json.dumps(record).replace('"p1"', f'"{pid}"'))
    moved: dict[str, Any] = json.loads(json.dumps(out).replace("Patient/p1", f"Patient/{pid}"))
    return moved


RECORDS = {
    # Letrozole progressed; fulvestrant started after it (given next); capecitabine later.
    "after_growth": of(
        "a",
        metastatic_bundle(
            *RECEPTORS,
            medication(
                "letro", "203769", start="2020-07-01", end="2021-03-01", statusReason=PROGRESSED
            ),
            medication("fulv", "203870", start="2021-03-10", end="2022-01-01"),
            medication("cape", "200328", status="active", start="2022-02-01", end=None),
        ),
    ),
    # Palbociclib and letrozole started the same day: one regimen, given first.
    "regimen": of(
        "b",
        metastatic_bundle(
            *RECEPTORS,
            medication("palbo", "1601374", status="active", start="2020-07-01", end=None),
            medication("letro", "203769", status="active", start="2020-07-01", end=None),
        ),
    ),
    # Letrozole progressed; anastrozole (its class, no source names it next) is given next.
    "same_class": of(
        "c",
        metastatic_bundle(
            *RECEPTORS,
            medication(
                "l1", "203769", start="2020-07-01", end="2021-01-01", statusReason=PROGRESSED
            ),
            medication(
                "ana", "262485", kind="MedicationRequest", status="active", start="2021-02-01"
            ),
        ),
    ),
    # Toremifene first (the bundled rules offer it; the example layer does not stock it).
    "toremifene": of(
        "d",
        metastatic_bundle(
            *RECEPTORS,
            medication("tore", "155082", status="active", start="2020-06-15", end=None),
        ),
    ),
    # Tamoxifen before the spread, nothing after: no decision to judge.
    "nothing_after": of(
        "e",
        metastatic_bundle(
            *RECEPTORS, medication("tam", "10324", start="2018-03-01", end="2019-03-01")
        ),
    ),
    # No metastatic disease recorded.
    "early": of("f", bundle(patient(), breast_cancer(), *RECEPTORS)),
}


@pytest.fixture(scope="module")
def result() -> mbc_rules.cohort.ConcordanceResult:
    return mbc_rules.concordance(RECORDS)


def test_the_treatment_given_next_is_read_from_the_medications(
    result: mbc_rules.cohort.ConcordanceResult,
) -> None:
    assert result.records is not None
    records = result.records
    assert records.loc["after_growth", "given_next"] == ("fulvestrant",)
    assert records.loc["after_growth", "given_start"] == "2021-03-10"
    assert records.loc["after_growth", "decision_after"] == "2020-07-01"
    # Letrozole stays in the history; capecitabine, started later, does not.
    assert records.loc["after_growth", "history_kept"] == 1
    assert records.loc["after_growth", "given_resources"] == ("MedicationStatement/fulv",)
    assert records.loc["regimen", "given_next"] == ("letrozole", "palbociclib")
    assert records.loc["regimen", "decision_after"] == "2020-06-01"  # the diagnosis
    assert records.loc["same_class", "given_next"] == ("anastrozole",)
    assert records.loc["toremifene", "given_next"] == ("toremifene",)
    assert records.loc["nothing_after", "given_next"] == ()
    assert records.loc["early", "given_next"] == ()


def test_each_record_gets_its_verdict(result: mbc_rules.cohort.ConcordanceResult) -> None:
    patients = result.patients
    verdicts = dict(zip(patients.index, patients["verdict"], strict=True))
    assert verdicts == {
        "after_growth": "offered",
        "regimen": "offered",
        "same_class": "not_recommended",
        "toremifene": "offered",
        "nothing_after": "not_evaluated",
        "early": "not_evaluated",
    }
    assert patients.loc["same_class", "reason_kind"] == "grew_on_before"
    assert str(patients.loc["same_class", "reason"]).startswith(
        "Not offered: the cancer grew on letrozole"
    )
    assert list(patients["patient_id"]) == ["a", "b", "c", "d", "e", "f"]
    assert patients.loc["nothing_after", "reason"] == (
        "no dated cancer drug started after the metastatic diagnosis (2020-06-01)"
    )
    assert patients.loc["early", "reason"] == (
        "the record does not establish metastatic disease: no decision to judge"
    )
    # The history at the decision: the line is the second (letrozole grew before).
    assert patients.loc["after_growth", "line"] == "2"
    assert patients.loc["regimen", "line"] == "1"
    summary = result.summary(by=())
    assert list(summary["judged"]) == [4]
    assert list(summary["share_concordant"]) == [0.75]


def test_the_local_layer_says_not_available_here() -> None:
    layered = Rulebase.bundled().with_local(ROOT / "examples" / "site_rules")
    out = mbc_rules.concordance({"toremifene": RECORDS["toremifene"]}, rulebase=layered)
    assert out.patients.loc["toremifene", "reason_kind"] == "not_available_here"


def test_paths_folders_and_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    for name, record in RECORDS.items():
        (folder / f"{name}.json").write_text(json.dumps(record))
    from_folder = mbc_rules.concordance(folder)
    assert list(from_folder.patients["verdict"]) == [
        "offered",
        "not_evaluated",
        "not_evaluated",
        "offered",
        "not_recommended",
        "offered",
    ]  # in name order: after_growth, early, nothing_after, regimen, same_class, toremifene
    one = mbc_rules.concordance(folder / "same_class.json")
    assert list(one.patients["reason_kind"]) == ["grew_on_before"]
    out = io.StringIO()
    assert main(["concordance", str(folder), "--output", str(tmp_path / "out")], out=out) == 0
    assert "wrote 6 patients" in out.getvalue()
    written = (tmp_path / "out" / "concordance_records.csv").read_text()
    assert "2021-03-10" in written
    out = io.StringIO()
    assert (
        main(
            ["concordance", str(folder / "same_class.json"), str(folder / "regimen.json")], out=out
        )
        == 0
    )
    assert "| same_class.json" not in out.getvalue()  # the Markdown names patients, not files
    assert "| c | anastrozole | not_recommended | grew_on_before |" in out.getvalue()


def test_a_broken_record_is_named() -> None:
    out = mbc_rules.concordance({"good": RECORDS["regimen"], "bad": {"resourceType": "Bundle"}})
    assert out.patients.loc["bad", "verdict"] == "not_evaluated"
    assert str(out.patients.loc["bad", "reason"]).startswith("the record could not be read:")
    with pytest.raises(mbc_rules.MbcRulesError, match="not int"):
        mbc_rules.concordance([RECORDS["regimen"], 3])


def test_cli_fhir_flag_and_a_missing_path(tmp_path: Path) -> None:
    named = tmp_path / "record.bundle"
    named.write_text(json.dumps(RECORDS["same_class"]))
    out = io.StringIO()
    assert main(["concordance", str(named), "--fhir"], out=out) == 0
    assert "| c | anastrozole | not_recommended | grew_on_before |" in out.getvalue()
    err = io.StringIO()
    assert main(["concordance", str(tmp_path / "nowhere.json")], err=err) == 1
    assert f"cannot read {tmp_path / 'nowhere.json'}: no such file or folder" in err.getvalue()
