"""Stage 3, validate: turn loaded files into checked models, reporting every problem at once.

Each item of each section is validated on its own, so one bad rule never hides the next. A
pydantic error's location is walked along the file's data to find the node it names, and the
loader's line marks give its line. Checks across items (duplicate ids, example profiles) run
here too; checks that need the engine (do the examples fire as they say?) run after compile,
in ``rulebase``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mbc_rules.errors import Problem
from mbc_rules.load import LoadedFile, PathKey
from mbc_rules.profile import PatientProfile
from mbc_rules.schema import SECTION_KEYS, Rule, RuleFile, Source, VocabularyEntry
from mbc_rules.vocabulary import Agent, Vocabulary

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Located:
    """Where a validated item came from."""

    file: LoadedFile
    key: PathKey

    @property
    def line(self) -> int | None:
        return self.file.line_of(self.key)

    def problem(self, message: str, rule_id: str | None = None, key: PathKey = ()) -> Problem:
        return Problem(self.file.path, self.file.line_of((*self.key, *key)), rule_id, message)


@dataclass(frozen=True)
class ValidatedRules:
    """Every model of a rule set, each with where it came from."""

    sources: dict[str, Source]
    vocabulary: Vocabulary
    rules: tuple[Rule, ...]
    locations: dict[str, Located]
    version: str | None


def _data_path(data: Any, loc: Sequence[str | int]) -> PathKey:
    """Follow a pydantic ``loc`` through the data, skipping union tags and model names."""
    path: list[str | int] = []
    node = data
    for step in loc:
        if isinstance(node, dict) and step in node:
            node = node[step]
            path.append(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            path.append(step)
    return tuple(path)


def _describe(path: PathKey) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _messages(error: ValidationError, data: Any) -> list[tuple[PathKey, str]]:
    found: list[tuple[PathKey, str]] = []
    for detail in error.errors():
        path = _data_path(data, detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = f"unknown key {detail['loc'][-1]!r}"
        elif detail["type"] == "missing":
            message = f"missing key {detail['loc'][-1]!r}"
        where = _describe(path)
        found.append((path, f"{where}: {message}" if where else message))
    return found


def _rule_id(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return str(item["id"])
    return None


def _validate_item(
    model: type[Model],
    item: Any,
    where: Located,
    problems: list[Problem],
    context: dict[str, Any] | None = None,
) -> Model | None:
    try:
        return model.model_validate(item, context=context)
    except ValidationError as error:
        rule_id = _rule_id(item)
        for path, message in _messages(error, item):
            problems.append(where.problem(message, rule_id, path))
        return None


def _items(files: Iterable[LoadedFile], section: str) -> Iterable[tuple[Any, Located]]:
    for file in files:
        if isinstance(file.data, dict):
            for index, item in enumerate(file.data.get(section) or []):
                yield item, Located(file, (section, index))


def _check_tops(files: Sequence[LoadedFile], problems: list[Problem]) -> list[LoadedFile]:
    usable = []
    for file in files:
        where = Located(file, ())
        if file.data is None:
            continue  # an empty file holds nothing, which is not an error
        if not isinstance(file.data, dict):
            problems.append(where.problem(f"a rule file is a mapping with keys {SECTION_KEYS}"))
            continue
        if _validate_item(RuleFile, file.data, where, problems) is not None:
            usable.append(file)
    return usable


def _agents(entries: Sequence[tuple[VocabularyEntry, Located]], problems: list[Problem]) -> Vocabulary:
    agents: list[Agent] = []
    owner: dict[str, str] = {}
    for entry, where in entries:
        names = {entry.id, entry.name, *entry.brands, *entry.aliases}
        for name in sorted(names):
            key = " ".join(name.casefold().replace("-", " ").replace("_", " ").split())
            if key in owner and owner[key] != entry.id:
                problems.append(
                    where.problem(f"name {name!r} already belongs to {owner[key]!r}", entry.id)
                )
            owner.setdefault(key, entry.id)
        agents.append(
            Agent(
                id=entry.id,
                name=entry.name,
                kind=entry.kind,
                category=entry.category,
                drug_class=entry.drug_class,
                brands=tuple(entry.brands),
                aliases=tuple(entry.aliases),
                in_sources=entry.in_sources,
            )
        )
    return Vocabulary.of(agents)


def _unique(
    items: Sequence[tuple[Any, Located]], what: str, problems: list[Problem]
) -> dict[str, tuple[Any, Located]]:
    by_id: dict[str, tuple[Any, Located]] = {}
    for item, where in items:
        if item.id in by_id:
            first = by_id[item.id][1]
            problems.append(
                where.problem(
                    f"duplicate {what} id {item.id!r} (first defined at {first.file.path.name}:"
                    f"{first.line})",
                    item.id,
                )
            )
            continue
        by_id[item.id] = (item, where)
    return by_id


def validate_files(files: Sequence[LoadedFile], problems: list[Problem]) -> ValidatedRules:
    """Build the models of a rule set; every problem found is appended to ``problems``."""
    usable = _check_tops(files, problems)

    sources = [
        (s, w) for item, w in _items(usable, "sources")
        if (s := _validate_item(Source, item, w, problems)) is not None
    ]
    source_ids = set(_unique(sources, "source", problems))
    entries = [
        (e, w) for item, w in _items(usable, "vocabulary")
        if (e := _validate_item(VocabularyEntry, item, w, problems)) is not None
    ]
    vocabulary = _agents(list(_unique(entries, "vocabulary", problems).values()), problems)

    context = {"vocabulary": vocabulary, "source_ids": source_ids}
    rules = [
        (r, w) for item, w in _items(usable, "rules")
        if (r := _validate_item(Rule, item, w, problems, context)) is not None
    ]
    unique_rules = _unique(rules, "rule", problems)
    for rule, where in unique_rules.values():
        for index, example in enumerate(rule.examples):
            example_where = Located(where.file, (*where.key, "examples", index, "profile"))
            _validate_item(
                PatientProfile, example.profile, example_where, problems, {"vocabulary": vocabulary}
            )

    versions = {f.data["version"] for f in usable if f.data.get("version") is not None}
    if len(versions) > 1:
        problems.append(Problem(None, None, None, f"rule files disagree on version: {versions}"))
    return ValidatedRules(
        sources={s.id: s for s, _ in sources},
        vocabulary=vocabulary,
        rules=tuple(r for r, _ in unique_rules.values()),
        locations={r.id: w for r, w in unique_rules.values()},
        version=min(versions) if versions else None,
    )
