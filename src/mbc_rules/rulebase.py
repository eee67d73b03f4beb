"""A loaded rule set: the pipeline's stages joined, and the entry point of an evaluation.

load (``load``) -> schema and validate (``validate``) -> compile (``compile``) -> evaluate
(``engine``) -> rank (``rank``). Everything static is done once, at load; an evaluation only
derives facts, matches and ranks.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from mbc_rules._version import __version__
from mbc_rules.compile import CompiledRuleset, compile_rules
from mbc_rules.engine import (
    EngineName,
    Matcher,
    PythonMatcher,
    durable_problems,
    make_matcher,
    uses_durable,
)
from mbc_rules.errors import Problem, RulebaseError
from mbc_rules.explain import Explanation, explain
from mbc_rules.facts import derive_facts
from mbc_rules.load import LoadedFile, find_rule_files, read_rule_file, read_source_document
from mbc_rules.profile import PatientProfile
from mbc_rules.rank import cite, rank, speaking_of
from mbc_rules.result import (
    AdviceItem,
    Evaluation,
    InformativeTest,
    NotRecommendedItem,
    RankChange,
    TestOutcome,
    TreatmentOption,
)
from mbc_rules.schema import CoverageEntry, Rule, Source
from mbc_rules.validate import ValidatedRules, validate_files
from mbc_rules.vocabulary import Vocabulary

MALE_CAVEAT = (
    "The sources were written mainly for women; for a male patient only the statements that "
    "do not restrict by sex are applied."
)
SUPPORT_AND_TRIALS = frozenset({"palliative_care", "complementary_therapy", "clinical_trial"})
_Answer = tuple[
    list[TreatmentOption], list[NotRecommendedItem], list[AdviceItem], list[str], list[str]
]
SILENT_CAVEAT = (
    "No source covers an anticancer treatment for this profile as given; nothing is offered "
    "rather than a guess. See the advice and the unknown statuses."
)


def bundled_rules_dir() -> Path:
    """The rule files shipped with the package (in a wheel) or beside ``src/`` (in a checkout)."""
    packaged = Path(str(resources.files("mbc_rules"))) / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


def _content_hash(files: list[LoadedFile], root: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path.relative_to(root).as_posix()):
        digest.update(file.path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class Rulebase:
    """A validated, compiled rule set, ready to evaluate profiles.

    Build one with :meth:`load` (a directory of rule files) or :meth:`bundled`. Any number of
    rulebases coexist in one process, and one rulebase may be used from several threads.
    """

    def __init__(
        self,
        *,
        sources: Mapping[str, Source],
        vocabulary: Vocabulary,
        rules: tuple[Rule, ...],
        version: str,
        coverage: tuple[CoverageEntry, ...] = (),
        content_hash: str,
        engine: EngineName = "auto",
    ) -> None:
        self.sources = dict(sources)
        self.vocabulary = vocabulary
        self.rules = rules
        self.coverage = coverage
        self.version = version
        self.content_hash = content_hash
        self.engine_name: EngineName = engine
        self._by_id = {rule.id: rule for rule in rules}
        self._compiled: CompiledRuleset = compile_rules(rules)
        self._matcher: Matcher = make_matcher(self._compiled, engine)
        # Ranking is a pure function of the rules that fired (and of whether the sentences
        # about women apply): a cohort repeats the same few hundred sets, so each is ranked
        # once. The engine itself still runs for every evaluation.
        self._answer = functools.lru_cache(maxsize=4096)(self._ranked_answer)

    def __getstate__(self) -> dict[str, Any]:
        # The matcher holds an engine handle that cannot cross a process boundary: a pickled
        # rulebase carries its validated rules and compiles a fresh matcher where it lands
        # (a Dask or Spark worker).
        return {
            "sources": self.sources,
            "vocabulary": self.vocabulary,
            "rules": self.rules,
            "version": self.version,
            "coverage": self.coverage,
            "content_hash": self.content_hash,
            "engine": self.engine_name,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        engine: EngineName = "auto",
        check_examples: bool = True,
        sources_dir: str | Path | None = None,
    ) -> Rulebase:
        """Load, validate and compile every ``*.yaml`` file below ``directory``.

        When no file there defines ``sources`` or ``vocabulary``, the bundled ones are used, so
        a rule set of one's own only needs its rules.

        Args:
            directory: folder of rule files.
            engine: ``"durable"``, ``"python"``, or ``"auto"`` (durable-rules where it imports).
            check_examples: run every rule's own examples and report those that fail.
            sources_dir: the folder of the source texts; when given, every excerpt must stand
                word for word (white space, case and typographic quotes aside) in its text.

        Raises:
            RulebaseError: every problem found, each with file, line and rule id.
        """
        root = Path(directory)
        if not root.is_dir():
            raise RulebaseError([Problem(root, None, None, "not a directory of rule files")])
        files: list[LoadedFile] = []
        paths, problems = find_rule_files(root)
        for path in paths:
            loaded, found = read_rule_file(path)
            problems.extend(found)
            if loaded is not None:
                files.append(loaded)
        content_hash = _content_hash(files, root)
        bundled = bundled_rules_dir()
        for section, file_name in (("sources", "sources.yaml"), ("vocabulary", "vocabulary.yaml")):
            defines = any(isinstance(f.data, dict) and section in f.data for f in files)
            if not defines and root.resolve() != bundled.resolve():
                loaded, found = read_rule_file(bundled / file_name)
                problems.extend(found)
                if loaded is not None:
                    files.append(loaded)
        validated = validate_files(files, problems)
        if not problems and check_examples:
            problems.extend(_failing_examples(validated))
        if not problems and uses_durable(engine):
            # Compiled and run in a child process first: durable-rules aborts the process on
            # some rule sets instead of raising.
            problems.extend(durable_problems(validated, compile_rules(validated.rules)))
        if sources_dir is not None:
            problems.extend(_misquoted(validated, Path(sources_dir)))
        if problems:
            raise RulebaseError(sorted(problems, key=_problem_order))
        return cls(
            sources=validated.sources,
            vocabulary=validated.vocabulary,
            rules=validated.rules,
            coverage=validated.coverage,
            version=validated.version or "unversioned",
            content_hash=content_hash,
            engine=engine,
        )

    @classmethod
    def bundled(cls, engine: EngineName = "auto") -> Rulebase:
        """The rulebase shipped with the package (built once per engine and reused)."""
        return _bundled(engine)

    @property
    def engine(self) -> str:
        """The name of the matcher in use: ``durable`` or ``python``."""
        return self._matcher.name

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id. Raises KeyError if there is none."""
        return self._by_id[rule_id]

    def read_profile(self, profile: PatientProfile | Mapping[str, Any]) -> PatientProfile:
        """Validate a mapping (or re-check a model) with this rulebase's drug vocabulary.

        Raises:
            pydantic.ValidationError: naming each field that is wrong.
        """
        data = profile.model_dump() if isinstance(profile, PatientProfile) else profile
        return PatientProfile.model_validate(data, context={"vocabulary": self.vocabulary})

    def fired_rules(self, profile: PatientProfile | Mapping[str, Any]) -> list[str]:
        """Ids of the rules that fire for ``profile``, in rule-file order."""
        facts = derive_facts(self.read_profile(profile), self.vocabulary)
        fired = self._matcher.match(facts)
        return [rule.id for rule in self.rules if rule.id in fired]

    def evaluate(self, profile: PatientProfile | Mapping[str, Any]) -> Evaluation:
        """Evaluate one patient profile.

        Args:
            profile: a :class:`PatientProfile` or a mapping of its fields.

        Returns:
            The ranked, cited options, what is not recommended, and the trace.

        Raises:
            pydantic.ValidationError: the profile is invalid (the error names the field).
            EngineError: the rule engine failed; no state was kept.
        """
        read = self.read_profile(profile)
        facts = derive_facts(read, self.vocabulary)
        fired_ids = self._matcher.match(facts)
        answer = self._answer(fired_ids, read.sex == "male")
        options, not_recommended, advice, caveats, fired_rules = answer
        # Top-level lists are copied so that no caller can edit what the cache holds; the
        # models inside are frozen.
        result = Evaluation.model_construct(
            options=list(options),
            not_recommended=list(not_recommended),
            advice=list(advice),
            caveats=list(caveats),
            fired_rules=list(fired_rules),
            rulebase_version=self.version,
            rulebase_hash=self.content_hash,
            profile=read,
        )
        result._rulebase = self
        return result

    def _ranked_answer(self, fired_ids: frozenset[str], male: bool) -> _Answer:
        fired = [rule for rule in self.rules if rule.id in fired_ids]
        options, not_recommended, advice = rank(
            speaking_of(fired, ("women",) if male else ()), self.vocabulary, self.sources
        )
        caveats = [MALE_CAVEAT] if male else []
        if not any(o.category not in SUPPORT_AND_TRIALS for o in options):
            caveats.append(SILENT_CAVEAT)
        return options, not_recommended, advice, caveats, [rule.id for rule in fired]

    def explain(self, evaluation: Evaluation, subject: str) -> Explanation:
        """Why ``subject`` is or is not among ``evaluation``'s options (see Evaluation.explain)."""
        facts = derive_facts(evaluation.profile, self.vocabulary)
        offered_rank: dict[str, int] = {}
        for option in evaluation.options:
            offered_rank.setdefault(option.category, option.rank)
            for agent in [*option.agents, *(a for r in option.regimens for a in r.agents)]:
                offered_rank.setdefault(agent, option.rank)
        refused: set[str] = {i.category for i in evaluation.not_recommended if i.category}
        refused |= {a for item in evaluation.not_recommended for a in item.agents}
        return explain(
            subject,
            rules=self.rules,
            facts=facts,
            fired=set(evaluation.fired_rules),
            vocabulary=self.vocabulary,
            sources=self.sources,
            offered_rank=offered_rank,
            not_recommended=refused,
        )

    def informative_tests(self, evaluation: Evaluation) -> list[InformativeTest]:
        """The unknown statuses whose value would change ``evaluation``'s answer, and how."""
        profile = evaluation.profile
        now = {o.category: o for o in evaluation.options}
        now_agents = _all_agents(evaluation)
        biopsy = [r for r in self.rules if r.then.advice and r.then.advice.topic in TEST_ADVICE]
        citations = cite([c for r in biopsy for c in r.citations], self.sources)
        tests = []
        for status, values in STATUS_VALUES.items():
            if getattr(profile, status) != "unknown":
                continue
            if status == "menopausal_status" and profile.sex == "male":
                continue
            outcomes = []
            for value in values:
                then = self.evaluate(profile.model_copy(update={status: value}))
                later = {o.category: o for o in then.options}
                then_agents = _all_agents(then)
                outcome = TestOutcome(
                    value=value,
                    options_appear=[c for c in later if c not in now],
                    options_disappear=[c for c in now if c not in later],
                    rank_changes=[
                        RankChange(category=c, rank_now=now[c].rank, rank_then=later[c].rank)
                        for c in now
                        if c in later and now[c].rank != later[c].rank
                    ],
                    agents_appear=sorted(then_agents - now_agents),
                    agents_disappear=sorted(now_agents - then_agents),
                )
                changes = (
                    outcome.options_appear,
                    outcome.options_disappear,
                    outcome.rank_changes,
                    outcome.agents_appear,
                    outcome.agents_disappear,
                )
                if any(changes):
                    outcomes.append(outcome)
            if outcomes:
                tests.append(InformativeTest(status=status, outcomes=outcomes, citations=citations))
        return tests

    def _repr_html_(self) -> str:
        from mbc_rules.display import rulebase_html

        return rulebase_html(self)

    def __repr__(self) -> str:
        return (
            f"<Rulebase {self.version} rules={len(self.rules)} sources={len(self.sources)} "
            f"agents={len(self.vocabulary)} engine={self.engine}>"
        )


STATUS_VALUES: dict[str, tuple[str, ...]] = {
    "er_status": ("positive", "negative"),
    "pr_status": ("positive", "negative"),
    "her2_status": ("positive", "negative"),
    "brca_status": ("positive", "negative"),
    "pik3ca_status": ("positive", "negative"),
    "pdl1_status": ("positive", "negative"),
    "menopausal_status": ("premenopausal", "postmenopausal"),
}
# Advice topics whose citations ground the informative tests (test the tumour, biopsy it).
TEST_ADVICE = frozenset({"biopsy_metastasis", "tumour_testing"})


def _all_agents(evaluation: Evaluation) -> set[str]:
    agents: set[str] = set()
    for option in evaluation.options:
        agents.update(option.agents)
        agents.update(a for regimen in option.regimens for a in regimen.agents)
    return agents


def _problem_order(problem: Problem) -> tuple[str, int]:
    return (str(problem.file or ""), problem.line or 0)


_TYPOGRAPHY = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-", "\u2013": "-"}
)


def normalise_text(text: str) -> str:
    """Text as citations are compared: case, white space and typographic quotes aside."""
    return " ".join(text.translate(_TYPOGRAPHY).replace("\u2022", " ").split()).casefold()


def _misquoted(validated: ValidatedRules, sources_dir: Path) -> list[Problem]:
    texts: dict[str, str] = {}
    problems = []
    for source in validated.sources.values():
        text, problem = read_source_document(sources_dir, source.document)
        if text is not None:
            texts[source.id] = normalise_text(text)
        if problem is not None:
            message = f"source {source.id!r}: {problem.message}"
            problems.append(Problem(problem.file, None, None, message))
    for rule in validated.rules:
        where = validated.locations[rule.id]
        for index, citation in enumerate(rule.citations):
            text = texts.get(citation.source)
            if text is not None and normalise_text(citation.excerpt) not in text:
                problems.append(
                    where.problem(
                        f"citations[{index}].excerpt is not word for word in "
                        f"{validated.sources[citation.source].document}",
                        rule.id,
                        ("citations", index, "excerpt"),
                    )
                )
    return problems


def _failing_examples(validated: ValidatedRules) -> list[Problem]:
    # The plain-Python matcher is the reference semantics and needs no engine: examples are
    # checked the same way wherever the library runs.
    rules, vocabulary = validated.rules, validated.vocabulary
    matcher = PythonMatcher(compile_rules(rules))
    problems = []
    for rule in rules:
        where = validated.locations[rule.id]
        for index, example in enumerate(rule.examples):
            profile = PatientProfile.model_validate(
                example.profile, context={"vocabulary": vocabulary}
            )
            fires = rule.id in matcher.match(derive_facts(profile, vocabulary))
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


@functools.cache
def _bundled(engine: EngineName) -> Rulebase:
    rulebase = Rulebase.load(bundled_rules_dir(), engine=engine)
    if rulebase.version == "unversioned":
        rulebase.version = __version__
    return rulebase


def bundled_vocabulary() -> Vocabulary:
    """The drug vocabulary of the bundled rulebase."""
    return _bundled_vocabulary()


@functools.cache
def _bundled_vocabulary() -> Vocabulary:
    problems: list[Problem] = []
    loaded, found = read_rule_file(bundled_rules_dir() / "vocabulary.yaml")
    problems.extend(found)
    validated = validate_files([loaded] if loaded else [], problems)
    if problems:
        raise RulebaseError(problems)
    return validated.vocabulary
