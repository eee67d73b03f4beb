"""Stage 3, validate: turn loaded files into checked models, reporting every problem at once.

Each item of each section is validated on its own, so one bad rule never hides the next. A
pydantic error's location is walked along the file's data to find the node it names, and the
loader's line marks give its line. Checks across items (duplicate ids, example profiles) run
here too, and so do the checks of a whole rule set: do the rules' own examples fire as they
say (read with ``conditions``, the reference semantics), and does every excerpt stand word
for word in its source text. ``Rulebase.load`` and ``mbc-rules lint`` run the same checks.

What validation produces is the :class:`~mbc_rules.ruleset.RuleSet` itself, the value a
rulebase is built over, and beside it the :class:`Locations` of its rules and statements,
which only the checks of a load need to name a file and line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mbc_rules.conditions import holds
from mbc_rules.errors import Problem
from mbc_rules.facts import derive_facts
from mbc_rules.load import LoadedFile, PathKey, read_source_document
from mbc_rules.profile import PatientProfile
from mbc_rules.ruleset import RuleSet
from mbc_rules.schema import SECTION_KEYS, CoverageEntry, Rule, RuleFile, Source, Statement
from mbc_rules.vocabulary import (
    DrugClass,
    DrugClassEntry,
    Vocabulary,
    VocabularyEntry,
    lineage,
    name_key,
)

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Located:
    """Where a validated item came from."""

    file: LoadedFile
    key: PathKey

    @property
    def line(self) -> int | None:
        """The line the item starts on."""
        return self.file.line_of(self.key)

    def problem(self, message: str, rule_id: str | None = None, key: PathKey = ()) -> Problem:
        """A problem at the line of ``key`` inside this item (of the item itself by default)."""
        return Problem(self.file.path, self.file.line_of((*self.key, *key)), rule_id, message)


@dataclass(frozen=True)
class Locations:
    """Where each rule and each statement of a validated rule set came from, by id.

    Kept beside the :class:`RuleSet`, not in it: it holds the loaded files (their text and
    line marks), which the rule set does not need once the checks of its load have run; a rule
    set remembered as checked (``cache``) has none.
    """

    rules: Mapping[str, Located]
    statements: Mapping[str, Located]


def _data_path(data: Any, loc: Sequence[str | int]) -> PathKey:
    """Follow a pydantic ``loc`` through the data, skipping union tags and model names."""
    path: list[str | int] = []
    node = data
    for step in loc:
        in_mapping = isinstance(node, dict) and step in node
        in_sequence = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_mapping or in_sequence:
            node = node[step]
            path.append(step)
    return tuple(path)


def _describe(path: PathKey) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _messages(error: ValidationError, data: Any, label: PathKey = ()) -> list[tuple[PathKey, str]]:
    found: list[tuple[PathKey, str]] = []
    for detail in error.errors():
        path = _data_path(data, detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = f"unknown key {detail['loc'][-1]!r}"
        elif detail["type"] == "missing":
            message = f"missing key {detail['loc'][-1]!r}"
        where = _describe((*label, *path))
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
    owner: tuple[str | None, PathKey] | None = None,
) -> Model | None:
    """Validate one item; ``owner`` names the rule (and path in it) of a nested item."""
    try:
        return model.model_validate(item, context=context)
    except ValidationError as error:
        rule_id, label = owner if owner is not None else (_rule_id(item), ())
        for path, message in _messages(error, item, label):
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


def _drug_classes(
    entries: Sequence[tuple[DrugClassEntry, Located]], problems: list[Problem]
) -> dict[str, DrugClass]:
    """The declared classes; a ``within`` that names no class, or goes round, is a problem."""
    classes = {entry.id: entry.drug_class() for entry, _ in entries}
    for entry, where in entries:
        if entry.within is not None and entry.within not in classes:
            problems.append(
                where.problem(
                    f"within names {entry.within!r}, which is not a declared drug class",
                    entry.id,
                    ("within",),
                )
            )
        elif entry.within is not None:
            chain = lineage(entry.id, classes)
            last = classes[chain[-1]]
            if last.within is not None:
                problems.append(
                    where.problem(
                        f"drug class {entry.id!r} lies within itself: "
                        f"{' -> '.join([*chain, last.within])}",
                        entry.id,
                        ("within",),
                    )
                )
    return classes


def _agents(
    entries: Sequence[tuple[VocabularyEntry, Located]],
    classes: dict[str, DrugClass],
    problems: list[Problem],
) -> Vocabulary:
    owner: dict[str, str] = {}
    code_owner: dict[str, str] = {}
    ids = {entry.id: entry for entry, _ in entries}
    for entry, where in entries:
        if entry.drug_class is not None and entry.drug_class not in classes:
            hint = difflib.get_close_matches(entry.drug_class, list(classes), n=3)
            did_you_mean = f" (did you mean {', '.join(map(repr, hint))}?)" if hint else ""
            problems.append(
                where.problem(
                    f"drug_class {entry.drug_class!r} is not a declared drug class{did_you_mean}",
                    entry.id,
                    ("drug_class",),
                )
            )
        if entry.same_drug_as is not None:
            other = ids.get(entry.same_drug_as)
            if other is None or other.kind != "drug" or entry.kind != "drug":
                problems.append(
                    where.problem(
                        f"same_drug_as names {entry.same_drug_as!r}, which is not a drug of "
                        "the vocabulary (both entries must be drugs)",
                        entry.id,
                        ("same_drug_as",),
                    )
                )
        names = {entry.id, entry.name, *entry.brands, *entry.aliases}
        for name in sorted(names):
            key = name_key(name)
            if key in owner and owner[key] != entry.id:
                problems.append(
                    where.problem(f"name {name!r} already belongs to {owner[key]!r}", entry.id)
                )
            owner.setdefault(key, entry.id)
        for code in entry.rxnorm:
            if code_owner.setdefault(code, entry.id) != entry.id:
                problems.append(
                    where.problem(
                        f"RxNorm code {code} already belongs to {code_owner[code]!r}", entry.id
                    )
                )
    return Vocabulary.of((entry.agent() for entry, _ in entries), classes.values())


def _unique(
    items: Iterable[tuple[Any, Located]], what: str, problems: list[Problem]
) -> list[tuple[Any, Located]]:
    """Drop (and report) every item whose id was already used; ids are read from raw data."""
    first_seen: dict[str, Located] = {}
    kept = []
    for item, where in items:
        item_id = _rule_id(item)
        if item_id is not None and item_id in first_seen:
            first = first_seen[item_id]
            problems.append(
                where.problem(
                    f"duplicate {what} id {item_id!r} (first defined at {first.file.path.name}:"
                    f"{first.line})",
                    item_id,
                )
            )
            continue
        if item_id is not None:
            first_seen[item_id] = where
        kept.append((item, where))
    return kept


def _statements(
    files: Sequence[LoadedFile], source_ids: set[str], problems: list[Problem]
) -> list[tuple[Statement, Located]]:
    """The inventory: every statement of the sources, each once, under a unique id."""
    found = []
    for item, where in _unique(_items(files, "statements"), "statement", problems):
        if isinstance(item, dict) and "rules" in item:
            problems.append(
                where.problem(
                    "a statement does not list its rules: they are derived from the rules' "
                    "citations, so cite the statement's id from the rule instead",
                    _rule_id(item),
                    ("rules",),
                )
            )
            continue
        context = {"source_ids": source_ids}
        if (statement := _validate_item(Statement, item, where, problems, context)) is not None:
            found.append((statement, where))
    return found


def _coverage(statements: Sequence[Statement], rules: Sequence[Rule]) -> tuple[CoverageEntry, ...]:
    """Each statement with the rules that cite it: one list, derived, so the two cannot disagree."""
    cited_by: dict[str, list[str]] = {}
    for rule in rules:
        for citation in rule.citations:
            cited_by.setdefault(citation.statement, [])
            if rule.id not in cited_by[citation.statement]:
                cited_by[citation.statement].append(rule.id)
    return tuple(CoverageEntry(**dict(s), rules=tuple(cited_by.get(s.id, ()))) for s in statements)


def validate_files(
    files: Sequence[LoadedFile],
    problems: list[Problem],
    inherited: Sequence[LoadedFile],
    content_hash: str,
) -> tuple[RuleSet, Locations]:
    """Build the rule set of ``files``; every problem found is appended to ``problems``.

    ``inherited`` files (the bundled sources or vocabulary merged into a rule set of one's own)
    contribute their sections but not their ``version``: the rule set's version is its own
    (``unversioned`` when its files give none). ``content_hash`` is the hash of every file's
    text (``rulebase.content_hash``), the rule set's identity.

    Returns:
        The rule set (of the items that validated, when there are problems) and where each of
        its rules and statements came from.
    """
    usable = _check_tops([*files, *inherited], problems)
    own = {id(file) for file in files}

    sources = [
        (s, w)
        for item, w in _unique(_items(usable, "sources"), "source", problems)
        if (s := _validate_item(Source, item, w, problems)) is not None
    ]
    declared = [
        (c, w)
        for item, w in _unique(_items(usable, "drug_classes"), "drug class", problems)
        if (c := _validate_item(DrugClassEntry, item, w, problems)) is not None
    ]
    entries = [
        (e, w)
        for item, w in _unique(_items(usable, "vocabulary"), "vocabulary", problems)
        if (e := _validate_item(VocabularyEntry, item, w, problems)) is not None
    ]
    vocabulary = _agents(entries, _drug_classes(declared, problems), problems)

    source_ids = {s.id for s, _ in sources}
    statements = _statements(usable, source_ids, problems)
    context = {
        "vocabulary": vocabulary,
        "source_ids": source_ids,
        "statements": {s.id: s for s, _ in statements},
    }
    rules = [
        (r, w)
        for item, w in _unique(_items(usable, "rules"), "rule", problems)
        if (r := _validate_item(Rule, item, w, problems, context)) is not None
    ]
    for rule, where in rules:
        for index, example in enumerate(rule.examples):
            in_rule: PathKey = ("examples", index, "profile")
            _validate_item(
                PatientProfile,
                example.profile,
                Located(where.file, (*where.key, *in_rule)),
                problems,
                {"vocabulary": vocabulary},
                owner=(rule.id, in_rule),
            )

    versions = {
        f.data["version"] for f in usable if id(f) in own and f.data.get("version") is not None
    }
    if len(versions) > 1:
        problems.append(Problem(None, None, None, f"rule files disagree on version: {versions}"))
    ruleset = RuleSet(
        sources={s.id: s for s, _ in sources},
        vocabulary=vocabulary,
        rules=tuple(r for r, _ in rules),
        statements=_coverage([s for s, _ in statements], [r for r, _ in rules]),
        version=min(versions) if versions else "unversioned",
        content_hash=content_hash,
    )
    locations = Locations(
        rules={r.id: w for r, w in rules}, statements={s.id: w for s, w in statements}
    )
    return ruleset, locations


def failing_examples(ruleset: RuleSet, locations: Locations) -> list[Problem]:
    """Every rule example that does not fire (or not fire) as it says, by ``conditions``."""
    vocabulary = ruleset.vocabulary
    problems = []
    for rule in ruleset.rules:
        where = locations.rules[rule.id]
        for index, example in enumerate(rule.examples):
            profile = PatientProfile.model_validate(
                example.profile, context={"vocabulary": vocabulary}
            )
            fires = holds(rule.when, derive_facts(profile, vocabulary))
            if fires != example.fires:
                expected = "fire" if example.fires else "not fire"
                problems.append(
                    where.problem(
                        f"example {index + 1} should {expected}, but the rule "
                        f"{'fires' if fires else 'does not fire'}",
                        rule.id,
                        ("examples", index),
                    )
                )
    return problems


_TYPOGRAPHY = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-", "\u2013": "-"}
)


def normalise_text(text: str) -> str:
    """Text as citations are compared: case, white space and typographic quotes aside."""
    return " ".join(text.translate(_TYPOGRAPHY).replace("\u2022", " ").split()).casefold()


def misquoted(ruleset: RuleSet, locations: Locations, sources_dir: Path) -> list[Problem]:
    """Every source text that cannot be read, and every excerpt not word for word in its text."""
    texts: dict[str, str] = {}
    problems = []
    for source in ruleset.sources.values():
        text, problem = read_source_document(sources_dir, source.document)
        if text is not None:
            texts[source.id] = normalise_text(text)
        if problem is not None:
            message = f"source {source.id!r}: {problem.message}"
            problems.append(Problem(problem.file, None, None, message))
    # Every excerpt is written once, in the inventory, so each is checked once, where it stands.
    for statement in ruleset.statements:
        text = texts.get(statement.source)
        if text is not None and normalise_text(statement.excerpt) not in text:
            where = locations.statements[statement.id]
            problems.append(
                where.problem(
                    f"statement {statement.id}: excerpt is not word for word in "
                    f"{ruleset.sources[statement.source].document}",
                    statement.id,
                    ("excerpt",),
                )
            )
    return problems
