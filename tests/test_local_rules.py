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
    assert unavailable.reason.startswith("Not available here:")
    assert unavailable.rule_ids == ("local-no-toremifene",)
    assert unavailable.citations[0].source == "site_pathway"
    # The local trial is among the clinical-trial option's rules and sources.
    trial = result.option("clinical_trial")
    assert trial is not None
    assert "local-example-1-trial" in trial.rule_ids
    assert "site_pathway" in trial.source_ids
    assert "local-example-1-trial" not in (bundled.option("clinical_trial") or trial).rule_ids
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
