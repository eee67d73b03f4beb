"""Issue 22, item 3: a drug whose code is unknown is read from its display or text, said so."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbc_rules import read_fhir
from mbc_rules.cli import main

from .fhir_builders import medication, metastatic_bundle


def test_rxnorm_1163443_leuprolide_injetable_product_is_read_from_its_display() -> None:
    # The bug: "not a drug the rules know; not read", though the vocabulary knows leuprolide.
    reading = read_fhir(
        metastatic_bundle(medication("leu", "1163443", display="leuprolide Injetable Product"))
    )
    assert [t.agent for t in reading.profile.prior_therapies or []] == ["leuprolide"]
    [warning] = [w for w in reading.warnings if w.kind == "drug_from_text"]
    assert "1163443" in warning.message
    assert "read from its text" in warning.message
    assert not [w for w in reading.warnings if w.kind == "unmapped_drug"]
    [code] = reading.drug_codes
    assert (code.code, code.drugs, code.read_by) == ("1163443", ("leuprolide",), "text")


def test_a_typo_in_an_unknown_codes_display_is_read_and_named() -> None:
    reading = read_fhir(
        metastatic_bundle(medication("ana", "999999", display="Anastrazole 1 MG Oral Tablet"))
    )
    assert [t.agent for t in reading.profile.prior_therapies or []] == ["anastrozole"]
    assert "'anastrazole' read as 'anastrozole'" in " ".join(w.message for w in reading.warnings)


@pytest.mark.parametrize(
    "display", ["Simvastatin 10 MG Oral Tablet", "Letrazine 5 MG", "acetaminophen 325 MG"]
)
def test_a_non_cancer_drug_is_still_not_read(display: str) -> None:
    reading = read_fhir(metastatic_bundle(medication("m", "314231", display=display)))
    assert reading.profile.prior_therapies is None
    assert "unmapped_drug" in {w.kind for w in reading.warnings}
    assert reading.drug_codes[0].read_by == "not_read"


def test_known_codes_are_in_the_table_as_read_by_code() -> None:
    reading = read_fhir(metastatic_bundle(medication("f", "1156671")))
    assert [(c.code, c.drugs, c.read_by) for c in reading.drug_codes] == [
        ("1156671", ("fulvestrant",), "code")
    ]


def test_the_read_command_prints_the_drug_code_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    path = tmp_path / "r.json"
    record = metastatic_bundle(medication("leu", "1163443", display="leuprolide Injetable Product"))
    path.write_text(json.dumps(record))
    assert main(["read", str(path)]) == 0
    out = capsys.readouterr().out
    assert "drug codes read:" in out
    line = next(x for x in out.splitlines() if "1163443" in x)
    assert "text" in line
    assert "leuprolide" in line
