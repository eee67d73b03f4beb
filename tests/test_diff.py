"""The impact of a rule change: a copy of the bundled rules with one rule changed names exactly
the patients and options that rule touches.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mbc_rules
from mbc_rules import Rulebase
from mbc_rules.bundled import bundled_rules_dir
from mbc_rules.cli import main

STATUSES = ("positive", "negative", "unknown")
SITES = ("bone", "spine", "liver", "lung", "brain")


def cohort(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = random.Random(seed)
    return pd.DataFrame(
        [
            {
                "patient_id": f"p{i}",
                "er_status": rng.choice(STATUSES),
                "pr_status": rng.choice(STATUSES),
                "her2_status": rng.choice(STATUSES),
                "menopausal_status": rng.choice(("premenopausal", "postmenopausal", "unknown")),
                "metastatic_sites": rng.sample(SITES, rng.randint(0, 2)),
            }
            for i in range(n)
        ]
    )


def changed_copy(tmp_path: Path, file: str, *replacements: tuple[str, str]) -> Rulebase:
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return Rulebase.load(folder)


def test_a_drug_removed_from_one_rule(tmp_path: Path) -> None:
    new = changed_copy(
        tmp_path,
        "sites.yaml",
        (
            "agents: [denosumab, zoledronic_acid, pamidronate]",
            "agents: [zoledronic_acid, pamidronate]",
        ),
    )
    frame = cohort()
    result = mbc_rules.diff(Rulebase.bundled(), new, frame)
    # The rule fires on spread to the bone or the spine, and it is the only one naming
    # denosumab: exactly those patients lose denosumab from bone-modifying therapy.
    touched = {
        pid
        for pid, sites in zip(frame["patient_id"], frame["metastatic_sites"], strict=True)
        if {"bone", "spine"} & set(sites)
    }
    assert touched
    changes = result.changes
    assert set(changes["patient_id"]) == touched
    assert set(changes["kind"]) == {"drugs_removed"}
    assert set(changes["category"]) == {"bone_modifying_therapy"}
    assert set(changes["old"]) == {"denosumab"}
    assert {tuple(r) for r in changes["rules"]} == {("bone-modifying-drugs",)}
    assert "pdq-bone-metastases-bone-modifying-drugs-1" in changes["statements"].iloc[0]
    # Every row names both rulebases.
    bundled = Rulebase.bundled()
    assert set(changes["old_hash"]) == {bundled.content_hash}
    assert set(changes["new_hash"]) == {new.content_hash} != {bundled.content_hash}
    assert set(changes["old_version"]) == {bundled.version}
    rules = result.rules.set_index("rule_id")
    assert list(rules.index) == ["bone-modifying-drugs"]
    assert rules.loc["bone-modifying-drugs", "change"] == "changed"
    assert rules.loc["bone-modifying-drugs", "parts"] == ("then",)
    assert rules.loc["bone-modifying-drugs", "patients_changed"] == len(touched)
    assert rules.loc["bone-modifying-drugs", "fires_old"] == len(touched)
    # The index of each change is the row of its patient.
    assert list(frame.loc[changes.index, "patient_id"]) == list(changes["patient_id"])


def test_a_condition_narrowed_removes_the_option_and_moves_nothing(tmp_path: Path) -> None:
    new = changed_copy(
        tmp_path,
        "sites.yaml",
        (
            "      any:\n        - {fact: spread_to_bone, equals: true}\n"
            "        - {fact: spread_to_spine, equals: true}\n    then:\n      offer:\n"
            "        category: bone_modifying_therapy",
            "      fact: spread_to_bone\n      equals: true\n    then:\n      offer:\n"
            "        category: bone_modifying_therapy",
        ),
        (
            "      - profile: {metastatic_sites: [spine]}\n        fires: true\n"
            "      - profile: {metastatic_sites: [liver]}",
            "      - profile: {metastatic_sites: [spine]}\n        fires: false\n"
            "      - profile: {metastatic_sites: [liver]}",
        ),
    )
    frame = cohort()
    result = mbc_rules.diff(Rulebase.bundled(), new, frame)
    # Spine without bone: bone-modifying therapy is no longer offered, unless another rule
    # offers it; the options below it are renumbered but have not moved.
    spine_only = {
        pid
        for pid, sites in zip(frame["patient_id"], frame["metastatic_sites"], strict=True)
        if "spine" in sites and "bone" not in sites
    }
    assert spine_only
    changes = result.changes
    assert set(changes["patient_id"]) == spine_only
    assert set(changes["kind"]) == {"option_removed"}
    assert set(changes["category"]) == {"bone_modifying_therapy"}
    by_kind = result.by_kind()
    assert list(by_kind["kind"]) == ["option_removed"]
    assert by_kind.iloc[0]["patients"] == len(spine_only)
    # Examples are not part of the comparison; the changed condition is.
    assert result.rules.iloc[0]["parts"] == ("when",)


def test_a_reason_reworded_changes_the_not_recommended_items(tmp_path: Path) -> None:
    new = changed_copy(
        tmp_path,
        "hormone_receptor_negative.yaml",
        (
            "reason: Hormone therapy isn't helpful for hormone receptor-negative cancers.",
            "reason: Hormone therapy does not help hormone receptor-negative cancers.",
        ),
    )
    frame = cohort()
    result = mbc_rules.diff(Rulebase.bundled(), new, frame)
    negative = {
        pid
        for pid, er, pr in zip(
            frame["patient_id"], frame["er_status"], frame["pr_status"], strict=True
        )
        if er == "negative" and pr == "negative"
    }
    assert negative
    changes = result.changes
    assert set(changes["patient_id"]) == negative
    assert sorted(set(changes["kind"])) == ["not_recommended_added", "not_recommended_removed"]
    assert set(changes["category"]) == {"hormone_therapy"}
    assert {tuple(r) for r in changes["rules"]} == {("hr-negative-no-hormone-therapy",)}
    added = changes[changes["kind"] == "not_recommended_added"]
    assert set(added["new"]) == {
        "hormone_therapy: Hormone therapy does not help hormone receptor-negative cancers."
    }


def test_the_same_rules_change_nothing() -> None:
    result = mbc_rules.diff(Rulebase.bundled(), Rulebase.bundled(), cohort(200))
    assert len(result.changes) == 0
    assert len(result.rules) == 0
    assert "0 of 200 patients get another answer" in result.markdown()


def test_cli_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    folder = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), folder)
    path = folder / "sites.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "agents: [denosumab, zoledronic_acid, pamidronate]",
            "agents: [zoledronic_acid, pamidronate]",
        ),
        encoding="utf-8",
    )
    frame = cohort(100)
    frame["metastatic_sites"] = frame["metastatic_sites"].map("; ".join)
    parquet = tmp_path / "cohort.parquet"
    frame.to_parquet(parquet)
    out = tmp_path / "out"
    assert main(["diff", "bundled", str(folder), str(parquet), "--output", str(out)]) == 0
    changes = pd.read_csv(out / "diff_changes.csv")
    touched = {
        pid
        for pid, sites in zip(frame["patient_id"], frame["metastatic_sites"], strict=True)
        if "bone" in sites or "spine" in sites
    }
    assert set(changes["patient_id"]) == touched
    assert set(changes["kind"]) == {"drugs_removed"}
    assert (out / "diff.md").read_text().startswith("# Impact of a rule change")
    assert main(["diff", "bundled", str(folder), str(parquet)]) == 0
    report: Any = capsys.readouterr().out
    assert f"{len(touched)} of 100 patients get another answer" in report
    assert "| bone-modifying-drugs | changed | then |" in report
