"""The content hash covers every byte that shapes an answer; a rule set has its own version."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from mbc_rules import Rulebase
from mbc_rules import rulebase as rulebase_module
from mbc_rules.bundled import bundled_file, bundled_rules_dir

from .conftest import write_rules
from .test_rule_errors import GOOD_RULE


def copy_of_bundled(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), target)
    return target


def load(directory: Path) -> Rulebase:
    return Rulebase.load(directory, engine="python", check_examples=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_copy_of_the_bundled_rules_has_the_bundled_hash(
    tmp_path: Path, bundled: Rulebase
) -> None:
    assert load(copy_of_bundled(tmp_path)).content_hash == bundled.content_hash


@pytest.mark.parametrize(
    ("file_name", "old", "new"),
    [
        ("her2_positive.yaml", "tier: preferred", "tier: option"),
        ("vocabulary.yaml", "name: ", "name: X"),
        ("sources.yaml", "publisher: ", "publisher: X"),
        ("statements.yaml", "no_rule: ", "no_rule: X"),
    ],
)
def test_editing_a_rule_the_vocabulary_or_the_sources_changes_the_hash(
    tmp_path: Path, bundled: Rulebase, file_name: str, old: str, new: str
) -> None:
    directory = copy_of_bundled(tmp_path)
    edit(directory / file_name, old, new)
    assert load(directory).content_hash != bundled.content_hash


def test_the_bundled_files_merged_into_a_rule_set_are_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    before = load(tmp_path).content_hash
    sources = bundled_file("sources.yaml")
    changed = dataclasses.replace(sources, text=sources.text.replace("publisher: ", "publisher: X"))
    monkeypatch.setattr(
        rulebase_module,
        "bundled_file",
        lambda name: changed if name == "sources.yaml" else bundled_file(name),
    )
    assert load(tmp_path).content_hash != before


def test_the_package_version_is_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    before = load(tmp_path).content_hash
    monkeypatch.setattr(rulebase_module, "__version__", "0.0.0+test")
    assert load(tmp_path).content_hash != before


def test_renaming_a_file_changes_the_hash(tmp_path: Path) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    before = load(tmp_path).content_hash
    (tmp_path / "local.yaml").rename(tmp_path / "other.yaml")
    assert load(tmp_path).content_hash != before


def test_a_rule_set_of_ones_own_has_its_own_version(tmp_path: Path, bundled: Rulebase) -> None:
    write_rules(tmp_path, "local.yaml", GOOD_RULE)
    assert load(tmp_path).version == "unversioned"  # not the bundled rules' version
    write_rules(tmp_path, "local.yaml", 'version: "7.1"\n' + GOOD_RULE)
    local = load(tmp_path)
    assert local.version == "7.1"
    assert bundled.version != "7.1"
    assert local.evaluate({"her2_status": "positive"}).rulebase_version == "7.1"


def test_files_of_one_rule_set_must_agree_on_its_version(tmp_path: Path) -> None:
    write_rules(tmp_path, "a.yaml", 'version: "1"\n' + GOOD_RULE)
    write_rules(tmp_path, "b.yaml", 'version: "2"\n')
    with pytest.raises(Exception, match="disagree on version"):
        load(tmp_path)
