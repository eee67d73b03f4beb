"""The files shipped with the package: where they are, and their vocabulary, read once.

The bundled rulebase itself (one per engine) is built by ``Rulebase.bundled``; this module sits
below the profile, which reads drug names with the bundled vocabulary when no rulebase
supplies one.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import ValidationError

from mbc_rules.errors import Problem, RulebaseError
from mbc_rules.load import MAX_FILE_BYTES, LoadedFile, find_rule_files, read_limited, read_rule_file
from mbc_rules.vocabulary import DrugClassEntry, Vocabulary, VocabularyEntry


def bundled_rules_dir() -> Path:
    """The rule files shipped with the package (in a wheel) or beside ``src/`` (in a checkout)."""
    # The package's own folder: what ``importlib.resources.files`` gives for an installed
    # package, without importing ``importlib.resources`` (and ``tempfile``) at every load.
    packaged = Path(__file__).resolve().parent / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


def bundled_texts() -> dict[str, str] | None:
    """Every bundled rule file's text, by its name in the rule set, read afresh.

    None when one cannot be read as ``Rulebase.load`` would read it: the full load then
    reports the problem.
    """
    root = bundled_rules_dir()
    paths, problems = find_rule_files(root)
    if problems:
        return None
    texts = {}
    for path in paths:
        content, _ = read_limited(path, MAX_FILE_BYTES, "rule file")
        if content is None:
            return None
        try:
            texts[path.relative_to(root).as_posix()] = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return texts


@functools.cache
def bundled_file(name: str) -> LoadedFile:
    """One bundled rule file, read (and parsed) once per process.

    Raises:
        RulebaseError: the file cannot be read or parsed (a broken installation).
    """
    loaded, problems = read_rule_file(bundled_rules_dir() / name)
    if loaded is None or problems:
        raise RulebaseError(problems or [Problem(bundled_rules_dir() / name, None, None, "empty")])
    return loaded


@functools.cache
def bundled_vocabulary() -> Vocabulary:
    """The drug and procedure vocabulary shipped with the package.

    Raises:
        RulebaseError: the bundled vocabulary is not valid (a broken installation).
    """
    loaded = bundled_file("vocabulary.yaml")
    declared = bundled_file("drug_classes.yaml")
    try:
        entries = [VocabularyEntry.model_validate(item) for item in loaded.data["vocabulary"]]
        classes = [DrugClassEntry.model_validate(i) for i in declared.data["drug_classes"]]
    except (ValidationError, KeyError, TypeError) as error:
        raise RulebaseError([Problem(loaded.path, None, None, str(error))]) from error
    return Vocabulary.of((entry.agent() for entry in entries), (c.drug_class() for c in classes))
