"""The code tables the FHIR reader ships: RxNorm codes checked against the vocabulary, secondary
cancer codes against the profile's sites, and the vocabulary's new ``rxnorm`` field at load."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from mbc_rules import Rulebase, RulebaseError
from mbc_rules.fhir import codes
from mbc_rules.fhir.drugs import agents_for_rxnorm, agents_named
from mbc_rules.vocabulary import SITES

from .conftest import write_rules


def table(name: str) -> list[dict[str, str]]:
    text = resources.files("mbc_rules.fhir").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def test_every_mapped_rxnorm_code_names_its_drugs_in_its_display(bundled: Rulebase) -> None:
    vocabulary = bundled.vocabulary
    rows = table("rxnorm.csv")
    assert len(rows) > 900
    for row in rows:
        agents = tuple(row["agents"].split("+"))
        assert all(a in vocabulary for a in agents), row
        assert agents_named(row["display"], vocabulary) == agents, row
        assert vocabulary.by_rxnorm(row["rxcui"]) is None, row  # ingredients live in the YAML


def test_ingredient_codes_are_in_the_vocabulary(bundled: Rulebase) -> None:
    vocabulary = bundled.vocabulary
    assert vocabulary.by_rxnorm("282357").id == "fulvestrant"  # type: ignore[union-attr]
    assert vocabulary.by_rxnorm("1946825").id == "abemaciclib"  # type: ignore[union-attr]
    with_codes = [a for a in vocabulary.agents.values() if a.rxnorm]
    assert len(with_codes) >= 45
    # Clinical drug "PACLitaxel 100 MG [Abraxane]" is Abraxane, not paclitaxel.
    assert agents_for_rxnorm("1663183", vocabulary) == ("albumin_bound_paclitaxel",)
    # Phesgo holds two drugs.
    phesgo = [r for r in table("rxnorm.csv") if "Phesgo" in r["display"]]
    assert phesgo
    assert all(r["agents"] == "pertuzumab+trastuzumab" for r in phesgo)


def test_secondary_cancer_codes_map_to_profile_sites() -> None:
    rows = table("secondary_sites.csv")
    allowed = {*SITES, "regional_nodes", "unstated"}
    assert {r["site"] for r in rows} <= allowed
    site = {r["code"]: r["site"] for r in rows}
    assert site["94222008"] == "bone"
    assert site["94225005"] == "brain"
    assert site["94381002"] == "liver"
    assert site["94391008"] == "lung"
    assert site["C77.3"] == "regional_nodes"  # axillary nodes of a breast cancer are regional
    # The source list's keyword guesses that are wrong, corrected here:
    assert site["94328005"] != "liver"  # hepatic flexure of the colon
    assert site["315006004"] != "lung"  # metastasis FROM a lung tumour
    assert site["93144003"] != "lymph_nodes"  # leukaemic reticuloendotheliosis


def test_body_sites_are_profile_sites() -> None:
    for sites in codes.BODY_SITES.values():
        assert set(sites) <= set(SITES)


VOCABULARY = """\
vocabulary:
  - id: drug_a
    name: drug a
    kind: drug
    drug_class: serd
    category: hormone_therapy
    rxnorm: ["111"]
    in_sources: false
  - id: drug_b
    name: drug b
    kind: drug
    drug_class: serd
    category: hormone_therapy
    rxnorm: ["111", "12a"]
    in_sources: false
"""


def test_bad_and_duplicate_rxnorm_codes_fail_at_load(tmp_path: Path) -> None:
    write_rules(tmp_path, "vocabulary.yaml", VOCABULARY)
    with pytest.raises(RulebaseError) as caught:
        Rulebase.load(tmp_path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.rule_id) == (14, "drug_b")
    assert "rxnorm[1]" in problem.message
    duplicate = VOCABULARY.replace(', "12a"', "")
    write_rules(tmp_path, "vocabulary.yaml", duplicate)
    with pytest.raises(RulebaseError, match="RxNorm code 111 already belongs to 'drug_a'"):
        Rulebase.load(tmp_path)
