"""Issue 22: whose record it is, and hostile records (each a clear error or a reading)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mbc_rules import FhirReadError, PatientProfile, read_fhir, read_fhir_many
from mbc_rules.cli import main

from .fhir_builders import (
    SNOMED,
    bundle,
    coded,
    medication,
    metastatic_bundle,
    observation,
    patient,
)

ROOT = Path(__file__).resolve().parents[1]
ER = "40556-3"


def _er(rid: str, code: str, subject: str = "Patient/p1") -> dict[str, Any]:
    resource = observation(rid, ER, **coded(SNOMED, code))
    resource["subject"] = {"reference": subject}
    return resource


# --- item 2: the patient of a record ----------------------------------------------------------


def test_one_patient_with_copied_entries_about_two_others_is_read_not_refused() -> None:
    # The bug: one Patient and four Observations about two other patients raised "the record
    # holds 3 patients; choose one".
    record = bundle(
        patient(),
        _er("mine", "10828004"),
        _er("x1", "260385009", "Patient/x0"),
        _er("x2", "260385009", "Patient/x1"),
        _er("x3", "260385009", "Patient/x0"),
        _er("x4", "260385009", "Patient/x1"),
    )
    reading = read_fhir(record)
    assert reading.profile.patient_id == "p1"
    assert reading.profile.er_status == "positive"  # the others' negatives are not mixed in
    [left_out] = [w for w in reading.warnings if w.kind == "other_patient"]
    assert "Patient/x0" in left_out.message
    assert "Patient/x1" in left_out.message
    assert "4 entries" in left_out.message
    assert set(left_out.resources) == {
        "Observation/x1",
        "Observation/x2",
        "Observation/x3",
        "Observation/x4",
    }


def test_read_many_gives_one_row_for_one_patient_resource_with_foreign_entries() -> None:
    record = bundle(patient(), _er("mine", "10828004"), _er("x1", "260385009", "Patient/x0"))
    frames = read_fhir_many({"r": record})
    assert list(frames.profiles.index) == ["r"]
    assert "Patient/x0" in " ".join(frames.problems["message"])


def test_two_patient_resources_still_need_a_choice_and_the_other_is_named() -> None:
    record = bundle(
        patient(pid="p1"),
        patient(pid="p2"),
        _er("a", "10828004"),
        _er("b", "260385009", "Patient/p2"),
    )
    with pytest.raises(FhirReadError, match="2 patients"):
        read_fhir(record)
    reading = read_fhir(record, patient="p1")
    assert reading.profile.er_status == "positive"
    assert any("Patient/p2" in w.message for w in reading.warnings if w.kind == "other_patient")


# --- item 4: hostile records -------------------------------------------------------------------


def _timed(source: object, **options: Any) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        outcome: object = read_fhir(source, **options)
    except FhirReadError as error:
        outcome = error
    return time.perf_counter() - start, outcome


def test_dangling_medication_references_read_in_linear_time() -> None:
    # The bug: each reference that pointed at nothing scanned every entry (quadratic).
    meds = []
    for index in range(20_000):
        med = medication(f"m{index}", "1156671")
        del med["medicationCodeableConcept"]
        med["medicationReference"] = {"reference": f"urn:uuid:nothing-{index}"}
        meds.append(med)
    seconds, reading = _timed(metastatic_bundle(*meds))
    assert seconds < 5, seconds
    assert not isinstance(reading, FhirReadError)


@pytest.mark.parametrize("path", ["/dev/zero", "fifo"])
def test_a_fifo_or_device_is_refused_not_read(path: str, tmp_path: Path) -> None:
    if path == "fifo":
        path = str(tmp_path / "record.json")
        os.mkfifo(path)  # nobody writes: reading it would block forever
    seconds, outcome = _timed(path)
    assert isinstance(outcome, FhirReadError)
    assert "not a regular file" in str(outcome)
    assert seconds < 1


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (lambda: json.dumps(bundle(patient() | {"x": _nest(500)})), "deeper than 64 levels"),
        (lambda: [patient() | {1: "one"}], "key 1 at \\[0\\] is not a string"),
        (lambda: [patient() | {"x": {1, 2}}], "is a set"),
        (lambda: [patient() | {"x": float("nan")}], "not a JSON number"),
        (lambda: '{"resourceType": "Bundle", "entry": [{"x": NaN}]}', "NaN is not a JSON number"),
        (lambda: _self_referencing(), "deeper than 64 levels"),
    ],
)
def test_shapes_json_cannot_make_or_too_deep_are_a_clear_error(make: Any, words: str) -> None:
    seconds, outcome = _timed(make())
    assert isinstance(outcome, FhirReadError), outcome
    assert re.search(words, str(outcome)), str(outcome)
    assert len(str(outcome)) < 400
    assert seconds < 1


def _nest(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


def _self_referencing() -> object:
    resource: dict[str, Any] = patient()
    resource["me"] = resource
    return [resource]


def test_a_400_digit_er_value_is_a_warning_not_an_overflow_error() -> None:
    er = observation("er", ER, valueQuantity={"value": 10**400, "unit": "%"})
    reading = read_fhir(json.dumps(metastatic_bundle(er)))
    assert reading.profile.er_status == "unknown"
    assert any("Observation/er could not be read" in w.message for w in reading.warnings)


def test_the_read_command_shows_no_traceback_for_a_400_digit_er_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    er = observation("er", ER, valueQuantity={"value": 10**400, "unit": "%"})
    path = tmp_path / "big.json"
    path.write_text(json.dumps(metastatic_bundle(er)))
    assert main(["read", str(path)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "Observation/er could not be read" in out.out


def test_a_megabyte_profile_value_is_shortened_in_its_error() -> None:
    with pytest.raises(ValidationError) as caught:
        PatientProfile.model_validate({"er_status": "x" * 1_000_000})
    assert len(str(caught.value)) < 2_000


def test_fuzzed_bundles_give_a_reading_or_a_read_error_in_a_child_process() -> None:
    # In a child: a native crash or a hang is this test failing, not the test run dying.
    child = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_fhir_bundles", "150"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        check=False,
    )
    assert child.returncode == 0, child.stderr[-4000:]
    counts = json.loads(child.stdout.strip().splitlines()[-1])
    assert counts["read"] >= 10, counts
    assert counts["refused"] >= 10, counts


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_the_read_command_refuses_a_fifo_or_device_without_hanging(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = kind
    if kind == "fifo":
        path = str(tmp_path / "record.json")
        os.mkfifo(path)
    start = time.perf_counter()
    status = main(["read", path])
    assert time.perf_counter() - start < 1
    err = capsys.readouterr().err
    assert status != 0
    assert "not a regular file" in err
    assert "Traceback" not in err
