"""A local layer over the bundled rules: an offer added, a drug not available here; both shown
in the answer, the hash and the diff; a bad local file is rejected at load, located.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import mbc_rules
from mbc_rules import Rulebase, RulebaseError
from mbc_rules.cli import main

from .conftest import ROOT

LAYER = ROOT / "examples" / "site_rules"
POST = {
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
}


@pytest.fixture(scope="module")
def layered() -> Rulebase:
    return Rulebase.bundled().with_local(LAYER)


def test_the_layer_adds_an_offer_and_marks_a_drug_unavailable(layered: Rulebase) -> None:
    bundled = Rulebase.bundled().evaluate(POST)
    result = layered.evaluate(POST)
    hormone_before = bundled.option("hormone_therapy")
    hormone = result.option("hormone_therapy")
    assert hormone_before is not None
    assert hormone is not None
    # The bundled answer offers toremifene; here it is not available, and says so.
    assert "toremifene" in hormone_before.agents
    assert "toremifene" not in hormone.agents
    assert set(hormone_before.agents) - set(hormone.agents) == {"toremifene"}
    (unavailable,) = [n for n in result.not_recommended if "toremifene" in n.agents]
    assert unavailable.kind == "not_available_here"
    assert unavailable.reason == "Toremifene is not stocked by this hospital's pharmacy."
    assert unavailable.rule_ids == ("local-no-toremifene",)
    assert unavailable.local_rules == ("local-no-toremifene",)
    assert unavailable.citations[0].source == "site_pathway"
    # The local trial is among the clinical-trial option's rules and sources.
    trial = result.option("clinical_trial")
    assert trial is not None
    assert "local-example-1-trial" in trial.rule_ids
    assert "site_pathway" in trial.source_ids
    assert "local-example-1-trial" not in (bundled.option("clinical_trial") or trial).rule_ids
    # The answer says which options and items come from local rules, and only those.
    assert trial.local_rules == ("local-example-1-trial",)
    assert {o.category: o.local_rules for o in result.options if o.local_rules} == {
        "clinical_trial": ("local-example-1-trial",)
    }
    assert [n.local_rules for n in result.not_recommended if n is not unavailable] == [
        () for n in result.not_recommended if n is not unavailable
    ]
    assert all(not o.local_rules for o in bundled.options)
    # Nothing else of the answer changes.
    assert [o.category for o in result.options] == [o.category for o in bundled.options]


def test_the_hash_and_version_cover_both_layers(layered: Rulebase, tmp_path: Path) -> None:
    bundled = Rulebase.bundled()
    assert layered.content_hash != bundled.content_hash
    assert layered.version == f"{bundled.version}+local-2026.12.1"
    assert layered.evaluate(POST).rulebase_hash == layered.content_hash
    copy = tmp_path / "site"
    shutil.copytree(LAYER, copy)
    local = copy / "local.yaml"
    local.write_text(local.read_text().replace("hospital's pharmacy", "pharmacy"))
    assert bundled.with_local(copy).content_hash != layered.content_hash


def test_diff_shows_what_the_layer_changes(layered: Rulebase) -> None:
    frame = pd.DataFrame(
        [
            {"patient_id": "post", **POST},
            {"patient_id": "triple", "er_status": "negative", "pr_status": "negative"},
        ]
    )
    change = mbc_rules.diff(Rulebase.bundled(), layered, frame)
    rows = {(r["patient_id"], r["kind"], r["category"]) for r in change.changes.to_dict("records")}
    assert ("post", "drugs_removed", "hormone_therapy") in rows
    assert ("post", "not_recommended_added", "hormone_therapy") in rows
    assert ("post", "sources_changed", "clinical_trial") in rows
    # The triple negative patient is offered no hormone therapy and no local trial; only the
    # drug not available here is added to what is not recommended.
    assert {k for p, k, _ in rows if p == "triple"} == {"not_recommended_added"}
    assert set(change.rules["rule_id"]) == {"local-example-1-trial", "local-no-toremifene"}
    assert set(change.rules["change"]) == {"added"}
    added = change.changes[change.changes["kind"] == "not_recommended_added"]
    assert set(added["new"]) == {
        "not available here: toremifene: Toremifene is not stocked by this hospital's pharmacy."
    }
    removed = change.changes[change.changes["kind"] == "drugs_removed"]
    assert list(removed["old"]) == ["toremifene"]
    assert list(removed["rules"]) == [("local-no-toremifene",)]


def test_a_bad_local_file_is_rejected_at_load_with_its_place(tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(LAYER, copy)
    local = copy / "local.yaml"
    text = local.read_text()
    local.write_text(text.replace("id: local-no-toremifene", "id: no-toremifene"))
    with pytest.raises(RulebaseError) as caught:
        Rulebase.bundled().with_local(copy)
    message = str(caught.value)
    assert f"{local}:16 [no-toremifene]" in message  # its id line
    assert "starts with 'local-'" in message
    # Validated against the bundled vocabulary.
    local.write_text(text.replace("agents: [toremifene]", "agents: [toremifenum]"))
    with pytest.raises(RulebaseError, match=r"\[local-no-toremifene\].*toremifenum.*toremifene"):
        Rulebase.bundled().with_local(copy)
    # A local rule may not take a bundled rule's id (it would silently replace it).
    local.write_text(text.replace("id: local-no-toremifene", "id: bone-modifying-drugs"))
    with pytest.raises(RulebaseError, match="bone-modifying-drugs"):
        Rulebase.bundled().with_local(copy)


def test_cli_local(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(POST))
    out = io.StringIO()
    assert main(["evaluate", str(profile), "--json", "--local", str(LAYER)], out=out) == 0
    result = json.loads(out.getvalue())
    assert any(n["rule_ids"] == ["local-no-toremifene"] for n in result["not_recommended"])
    err = io.StringIO()
    assert (
        main(["evaluate", str(profile), "--local", str(LAYER), "--rules", str(LAYER)], err=err) == 1
    )
    assert "--local goes over the bundled rules" in err.getvalue()


def test_cli_diff_local(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "cohort.parquet"
    pd.DataFrame([{"patient_id": "post", **POST}]).to_parquet(path)
    out = io.StringIO()
    assert main(["diff", "bundled", "bundled", str(path), "--local", str(LAYER)], out=out) == 0
    assert "| local-no-toremifene | added |" in out.getvalue()
    assert "+local-2026.12.1" in out.getvalue()
    err = io.StringIO()
    assert main(["diff", "bundled", str(LAYER), str(path), "--local", str(LAYER)], err=err) == 1
    assert "give NEW_RULES as 'bundled'" in err.getvalue()


GREW = {
    **POST,
    "prior_therapies": [{"agent": "letrozole", "outcome": "progressed", "setting": "metastatic"}],
}


def test_each_item_says_its_kind(layered: Rulebase) -> None:
    result = layered.evaluate(GREW)
    kinds = {n.agents: (n.kind, n.local_rules) for n in result.not_recommended}
    assert kinds[("letrozole",)] == ("grew_on_before", ())
    assert kinds[("anastrozole",)] == ("held_back_after_growth", ())
    assert kinds[("toremifene",)] == ("not_available_here", ("local-no-toremifene",))
    # A source's own statement against a drug is advised_against.
    triple = Rulebase.bundled().evaluate(
        {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
    )
    stated = [n for n in triple.not_recommended if n.rule_ids]
    assert stated
    assert {n.kind for n in stated} == {"advised_against"}


def test_the_views_say_not_available_here_and_local(layered: Rulebase) -> None:
    result = layered.evaluate(POST)
    line = "not available here: toremifene: Toremifene is not stocked by this hospital's pharmacy."
    text = layered.report(result)
    assert f"- {line} [local: local-no-toremifene]" in " ".join(text.split())
    assert "clinical trial (situational) [local: local-example-1-trial]:" in text
    markdown = layered.report(result, "markdown")
    assert line in markdown
    assert "| clinical trial [local: local-example-1-trial] |" in markdown
    html = layered.html(result)
    assert (
        "not available here: toremifene: Toremifene is not stocked by this hospital&#x27;s" in html
    )
    assert ">local</span>" in html
    # The bundled answer has no local marker anywhere.
    plain = Rulebase.bundled()
    assert "[local:" not in plain.report(plain.evaluate(POST))


def test_new_fields_read_back_and_verify(layered: Rulebase) -> None:
    result = layered.evaluate(POST)
    back = type(result).model_validate_json(result.model_dump_json())
    assert back == result
    assert layered.verify(back).verified
    # An edit of the kind is an edit of the result: the digest no longer matches.
    data = json.loads(result.model_dump_json())
    for item in data["not_recommended"]:
        item["kind"] = "advised_against"
    edited = type(result).model_validate(data)
    assert not layered.verify(edited).digest_intact
    # A result written before these fields existed still reads (their defaults).
    for option in data["options"]:
        del option["local_rules"]
    for item in data["not_recommended"]:
        del item["kind"], item["local_rules"]
    old = type(result).model_validate(data)
    assert old.option("clinical_trial") is not None
    assert old.not_recommended[0].kind == "advised_against"
    schema = mbc_rules.Evaluation.model_json_schema()
    item = schema["$defs"]["NotRecommendedItem"]["properties"]
    assert item["kind"]["enum"] == [
        "advised_against",
        "grew_on_before",
        "held_back_after_growth",
        "not_available_here",
    ]
    assert "local_rules" in schema["$defs"]["TreatmentOption"]["properties"]
    assert "local_rules" in schema["$defs"]["AdviceItem"]["properties"]


def test_only_a_local_rule_may_say_not_available_here(tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(LAYER, copy)
    local = copy / "local.yaml"
    local.write_text(local.read_text().replace("id: local-no-toremifene", "id: no-toremifene"))
    with pytest.raises(RulebaseError, match="not_available_here is for local rules"):
        Rulebase.load(copy)
    assert not any(r.id.startswith("local-") for r in Rulebase.bundled().rules)


def test_concordance_says_not_available_here(layered: Rulebase) -> None:
    frame = pd.DataFrame(
        [
            {"patient_id": "a", **POST, "next_treatment": "Fareston"},
            {"patient_id": "b", **POST, "next_treatment": "letrozole"},
        ]
    )
    out = mbc_rules.concordance(frame, rulebase=layered)
    rows = out.patients.set_index("patient_id")
    assert rows.loc["a", "verdict"] == "not_recommended"
    assert rows.loc["a", "reason_kind"] == "not_available_here"
    assert rows.loc["a", "reason"] == (
        "not available here: Toremifene is not stocked by this hospital's pharmacy. "
        "(local-no-toremifene)"
    )
    assert rows.loc["b", "verdict"] == "offered"
    summary = out.summary(by=())
    assert list(summary["not_available_here"]) == [1]
    assert list(summary["advised_against"]) == [0]
    # The bundled rules offer toremifene to the same patient.
    bundled = mbc_rules.concordance(frame).patients.set_index("patient_id")
    assert bundled.loc["a", "verdict"] == "offered"
