"""A loaded rule set: the pipeline's stages joined, and the entry point of an evaluation.

load (``load``) -> schema and validate (``validate``) -> compile (``compile``) -> evaluate
(``engine``) -> rank (``rank``). Everything static is done once, at load; an evaluation only
derives facts, matches and ranks. What needs the rules and a result (explanations in
``explain``, informative tests in ``whatif``, HTML in ``display``) is a method here that hands
both to those modules; the result itself is a plain value.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import ValidationError

from mbc_rules._version import __version__
from mbc_rules.bundled import bundled_file, bundled_rules_dir, bundled_texts
from mbc_rules.cache import read_checked, remember_checked
from mbc_rules.compile import CompiledRuleset, compile_rules
from mbc_rules.engine import (
    EngineName,
    Matcher,
    durable_checked,
    durable_problems,
    make_matcher,
    uses_durable,
)
from mbc_rules.engine.compiled import CompiledWaiting
from mbc_rules.errors import MbcRulesError, Problem, RulebaseError
from mbc_rules.evaluation import Evaluation, EvaluationReport, assembled
from mbc_rules.facts import NO_HISTORY, TreatmentHistory, derive_facts, treatment_history
from mbc_rules.load import LoadedFile, find_rule_files, read_rule_file
from mbc_rules.profile import PatientProfile
from mbc_rules.rank.citations import ordering_sentences
from mbc_rules.rank.memo import Ranker
from mbc_rules.rank.standing import NO_STANDING, Standing, timing_tests
from mbc_rules.result import (
    DISCLAIMER,
    AdviceItem,
    AgentName,
    InformativeTest,
    Names,
    NotRecommendedItem,
    SourceName,
    TreatmentOption,
    Verification,
    answer_digest,
    constructed,
    evaluation_digest,
    named_agents,
    result_digest,
)
from mbc_rules.ruleset import RuleSet
from mbc_rules.schema import LOCAL_PREFIX, Rule
from mbc_rules.vocabulary import Vocabulary
from mbc_rules.wording import agent_name, join_and, result_names

if TYPE_CHECKING:
    from mbc_rules.explain import Explanation
    from mbc_rules.report import ReportFormat

# Explanations, informative tests, reports and the notebook view (``explain``, ``whatif``,
# ``report``, ``display``) and the checks of a rule set (``validate``) are imported where they
# are used: a program that evaluates, or loads the bundled rules already checked, never pays
# for them.

__all__ = ["LOCAL_PREFIX", "MALE_CAVEAT", "SILENT_CAVEAT", "Rulebase", "bundled_rules_dir"]

_VALIDATOR = PatientProfile.__pydantic_validator__
# How many sets of named drugs (and options) a rulebase remembers the names of (``_names``,
# ``_named_by``): a few MB at most, the options being kept by the ranking anyway.
_NAMES_BOUND = 4096

MALE_CAVEAT = (
    "The sources were written mainly for women; for a male patient only the statements that "
    "do not restrict by sex are applied."
)
SUPPORT_AND_TRIALS = frozenset({"palliative_care", "complementary_therapy", "clinical_trial"})
_Answer = tuple[
    tuple[TreatmentOption, ...],
    tuple[NotRecommendedItem, ...],
    tuple[AdviceItem, ...],
    tuple[str, ...],
    tuple[str, ...],
    Names,
    str,
]
UNKNOWN_HISTORY_CAVEAT = (
    "The treatment history is not given (prior_therapies omitted): this answer assumes no "
    "earlier treatment. Give the history, or [] when there was none; the informative tests "
    "show what a history would change."
)
UNKNOWN_COMPLICATIONS_CAVEAT = (
    "Complications are not given (complications omitted): this answer assumes none, such as "
    "serious problems from the spread, which would put chemotherapy first. Give them, or [] "
    "when there are none."
)


def unknown_outcome_caveat(agents: Iterable[str], vocabulary: Vocabulary) -> str:
    """The note for treatments whose outcome is not given: an unknown outcome is not growth
    on the drug, and not its absence either.
    """
    drugs = sorted(set(agents))
    named = join_and([agent_name(a, vocabulary) for a in drugs])
    one = len(drugs) == 1
    return (
        f"How {named} ended is not given (outcome unknown): the answer does not count "
        f"{'it' if one else 'them'} as treatment the cancer grew on, so "
        f"{'it' if one else 'they'} and drugs of {'its' if one else 'their'} class may still "
        f"be offered. Give how {'it' if one else 'each'} ended; the tests that would change "
        "the answer show what growth would change."
    )


SILENT_CAVEAT = (
    "No source covers an anticancer treatment for this profile as given; nothing is offered "
    "rather than a guess. See the advice and the unknown statuses."
)


def content_hash(files: Mapping[str, str]) -> str:
    """SHA-256 of everything that shapes an answer: every rule file, by name, and the code.

    ``files`` maps each file's name in the rule set to its text; it must include the files
    merged in from the bundled rules. The package version stands for the code that derives
    facts and ranks (the engines are held to agree, so the engine is not part of it).
    """
    digest = hashlib.sha256()
    digest.update(f"mbc-rules {__version__}\0".encode())
    for name in sorted(files):
        for part in (name, files[name]):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()


class Rulebase:
    """A validated, compiled rule set, ready to evaluate profiles.

    Build one with :meth:`load` (a directory of rule files) or :meth:`bundled`. Any number of
    rulebases coexist in one process, and one rulebase may be used from several threads.
    """

    def __init__(self, ruleset: RuleSet, *, engine: EngineName = "auto") -> None:
        # The validated rules as one frozen value (ruleset.py), as validation produced it:
        # what another matcher is built over (with_engine, from_ruleset) and what is pickled,
        # handed on without this object's matcher and memo. The names below are its fields,
        # not copies, read on the hot path without a property call.
        self.ruleset = ruleset
        self.sources = ruleset.sources
        self.vocabulary = vocabulary = ruleset.vocabulary
        self.rules = rules = ruleset.rules
        self.coverage = coverage = ruleset.statements
        self.version = ruleset.version
        self.content_hash = ruleset.content_hash
        self.engine_name: EngineName = engine
        self._by_id = ruleset.rules_by_id
        self._reading = {"vocabulary": vocabulary}  # profiles' validation context
        self._compiled: CompiledRuleset = compile_rules(rules)
        self._matcher: Matcher = make_matcher(self._compiled, engine)
        # A whole answer is a pure function of its key (fired rules, sex, history, standing,
        # waiting rules, unknown complications): a repeated key is answered at once; the
        # Ranker (below) remembers the parts of answers, which repeat far more. What is kept
        # is immutable (tuples of frozen models), so results that share it cannot change it.
        self._answer = functools.lru_cache(maxsize=4096)(self._ranked_answer)
        self._names_memo: dict[frozenset[str], Names] = {}
        self._named_memo: dict[int, tuple[TreatmentOption, frozenset[str]]] = {}
        self._agent_names: dict[str, AgentName] = {}  # bounded by the ids results name
        self._source_names: tuple[SourceName, ...] | None = None
        # Rules with a condition on the history: the only ones that can wait for another time.
        self._timed = tuple(rule for rule in rules if timing_tests(rule.when))
        # ``waiting_rules`` over them, compiled once: walking the condition trees on every
        # evaluation cost more than all the rest of it.
        offering = [rule for rule in self._timed if rule.then.offer is not None]
        self._waiting = CompiledWaiting([r.id for r in offering], [r.when for r in offering])
        # The statements behind the sources' orderings (empty when the inventory lacks them).
        try:
            self._sentences = ordering_sentences(coverage)
        except KeyError:
            self._sentences = {}
        # rank() with a memory of its steps, shared with the columnar engine: whole answers
        # rarely repeat, their parts do.
        self._ranker = Ranker(rules, vocabulary, self.sources, self._sentences)

    def __getstate__(self) -> dict[str, Any]:
        # The matcher holds an engine handle that cannot cross a process boundary: a pickled
        # rulebase carries its rule set and compiles a fresh matcher where it lands (a Dask or
        # Spark worker).
        return {"ruleset": self.ruleset, "engine": self.engine_name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["ruleset"], engine=state["engine"])  # type: ignore[misc]

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        engine: EngineName = "auto",
        check_examples: bool = True,
        sources_dir: str | Path | None = None,
        _over_bundled: bool = False,
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
        from mbc_rules.validate import failing_examples, misquoted, validate_files

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
        inherited: list[LoadedFile] = []
        bundled = bundled_rules_dir()
        defaults = (
            ("sources", "sources.yaml"),
            ("drug_classes", "drug_classes.yaml"),
            ("vocabulary", "vocabulary.yaml"),
            ("statements", "statements.yaml"),
        )
        if _over_bundled:
            # A local layer: every bundled file (rules included) is merged in, as files
            # inherited, so the layer is validated against the bundled vocabulary, facts and
            # statements and a duplicate id is a located problem.
            bundled_paths, bundled_problems = find_rule_files(bundled)
            problems.extend(bundled_problems)
            for path in bundled_paths:
                loaded, found = read_rule_file(path)
                problems.extend(found)
                if loaded is not None:
                    inherited.append(loaded)
        for section, file_name in defaults if not _over_bundled else ():
            defines = any(isinstance(f.data, dict) and section in f.data for f in files)
            if not defines and root.resolve() != bundled.resolve():
                inherited.append(bundled_file(file_name))
        texts = {f.path.relative_to(root).as_posix(): f.text for f in files}
        texts.update({f"<bundled>/{f.path.name}": f.text for f in inherited})
        ruleset, locations = validate_files(files, problems, inherited, content_hash(texts))
        if _over_bundled:
            # Every answer shows what comes from the local layer: its rule ids (in the options'
            # and items' rule_ids) say so.
            own = {id(f) for f in files}
            for rule_id, where in locations.rules.items():
                if id(where.file) in own and not rule_id.startswith(LOCAL_PREFIX):
                    problems.append(
                        where.problem(
                            f"a local rule's id starts with '{LOCAL_PREFIX}' (so that answers "
                            "show it comes from the local layer)",
                            rule_id,
                            ("id",),
                        )
                    )
        if not problems and check_examples:
            problems.extend(failing_examples(ruleset, locations))
        if not problems and uses_durable(engine):
            # Compiled and run in a child process first: durable-rules aborts the process on
            # some rule sets instead of raising.
            problems.extend(durable_problems(ruleset, locations))
        if sources_dir is not None:
            problems.extend(misquoted(ruleset, locations, Path(sources_dir)))
        if problems:
            raise RulebaseError(sorted(problems, key=_problem_order))
        if _over_bundled:
            version = f"{Rulebase.bundled().version}+local-{ruleset.version}"
            ruleset = dataclasses.replace(ruleset, version=version)
        return cls(ruleset, engine=engine)

    def with_local(self, directory: str | Path, *, check_examples: bool = True) -> Rulebase:
        """The bundled rules with an institution's own rules over them (a local layer).

        The layer's files (``*.yaml`` below ``directory``) may declare local sources and
        statements (the local documents it cites), vocabulary entries and rules whose ids start
        with ``local-``: offers (a local pathway, a trial open here) and ``not_recommended``
        statements naming agents (a drug not available here, with the reason), which remove
        those drugs from the options and show as items of what is not recommended. Everything
        is validated together with the bundled files; a problem reads ``file:line [rule-id]``.
        The content hash covers both layers; the version is ``BUNDLED+local-LOCAL``.

        Raises:
            MbcRulesError: this rulebase is not the bundled one.
            RulebaseError: every problem of the layer.
        """
        if self.content_hash != Rulebase.bundled().content_hash:
            raise MbcRulesError("a local layer goes over the bundled rules (Rulebase.bundled())")
        return Rulebase.load(
            directory, engine=self.engine_name, check_examples=check_examples, _over_bundled=True
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

    @property
    def rules_by_id(self) -> Mapping[str, Rule]:
        """The rules by id (read-only)."""
        return MappingProxyType(self._by_id)

    @property
    def compiled(self) -> CompiledRuleset:
        """The rules as the engines read them (each condition compiled once): what the
        columnar engine decides as masks, in the order of :attr:`rules`.
        """
        return self._compiled

    @property
    def ranker(self) -> Ranker:
        """The ranking with its bounded memory, shared by single evaluations and the columnar
        engine: the parts of answers (contributions, arrangements) repeat across patients.
        """
        return self._ranker

    def with_engine(self, engine: EngineName) -> Rulebase:
        """The same validated rules (same hash and version) on another matcher: the oracle
        a cohort's sample check runs on, or a faster twin.
        """
        return Rulebase.from_ruleset(self.ruleset, engine=engine)

    @classmethod
    def from_ruleset(cls, ruleset: RuleSet, *, engine: EngineName = "auto") -> Rulebase:
        """A rulebase over ``ruleset`` (already validated: its rules are not checked again)
        with a fresh matcher and an empty memory.
        """
        return cls(ruleset, engine=engine)

    def read_profile(self, profile: PatientProfile | Mapping[str, Any]) -> PatientProfile:
        """Validate a mapping (or re-check a model) with this rulebase's drug vocabulary.

        Raises:
            pydantic.ValidationError: naming each field that is wrong.
        """
        data = profile.model_dump() if isinstance(profile, PatientProfile) else profile
        # What PatientProfile.model_validate calls, without its handling of arguments not used.
        read: PatientProfile = _VALIDATOR.validate_python(data, context=self._reading)
        return read

    def fired_rules(self, profile: PatientProfile | Mapping[str, Any]) -> list[str]:
        """Ids of the rules that fire for ``profile``, in rule-file order."""
        facts = derive_facts(self.read_profile(profile), self.vocabulary)
        fired = self._matcher.match(facts)
        return [rule.id for rule in self.rules if rule.id in fired]

    @overload
    def evaluate(
        self,
        profile: PatientProfile | Mapping[str, Any],
        *,
        informative_tests: Literal[False] = False,
    ) -> Evaluation: ...

    @overload
    def evaluate(
        self, profile: PatientProfile | Mapping[str, Any], *, informative_tests: Literal[True]
    ) -> EvaluationReport: ...

    @overload
    def evaluate(
        self, profile: PatientProfile | Mapping[str, Any], *, informative_tests: bool
    ) -> Evaluation: ...

    def evaluate(
        self, profile: PatientProfile | Mapping[str, Any], *, informative_tests: bool = False
    ) -> Evaluation:
        """Evaluate one patient profile.

        Args:
            profile: a :class:`PatientProfile` or a mapping of its fields.
            informative_tests: also work out, for each status left unknown, what each value
                would change (an :class:`EvaluationReport`; each value tried costs an
                evaluation).

        Returns:
            The ranked, cited options, what is not recommended, and the trace; it shows
            itself (``str``, ``to_markdown()``, the notebook view).

        Raises:
            pydantic.ValidationError: the profile is invalid (the error names the field).
            EngineError: the rule engine failed; no state was kept.
        """
        result = self._evaluated(profile)
        return self.with_informative_tests(result) if informative_tests else result

    def with_informative_tests(self, evaluation: Evaluation) -> EvaluationReport:
        """``evaluation`` with the tests that would change it (what ``--json`` prints)."""
        if isinstance(evaluation, EvaluationReport):
            return evaluation
        return EvaluationReport.of(evaluation, self.informative_tests(evaluation))

    def _evaluated(self, profile: PatientProfile | Mapping[str, Any]) -> Evaluation:
        read = self.read_profile(profile)
        facts = derive_facts(read, self.vocabulary)
        fired_ids = self._matcher.match(facts)
        options, not_recommended, advice, caveats, fired_rules, names, answer = self._answer(
            fired_ids,
            read.sex == "male",
            treatment_history(read, self.vocabulary),
            Standing.of(facts),
            self._waiting(facts, fired_ids),
            read.complications is None,
        )
        # The history's other treatments (not anticancer, so not in the answer's key) are
        # named too: the patient line shows them.
        others = [
            t.agent
            for t in read.prior_therapies or ()
            if not self.vocabulary[t.agent].is_anticancer
        ]
        if others:
            names = self._names([*(a.id for a in names.agents), *others])
            answer = answer_digest(options, not_recommended, advice, caveats, fired_rules, names)
        return assembled(
            options=options,
            not_recommended=not_recommended,
            advice=advice,
            caveats=caveats,
            fired_rules=fired_rules,
            rulebase_version=self.version,
            rulebase_hash=self.content_hash,
            profile=read,
            disclaimer=DISCLAIMER,
            names=names,
            digest=evaluation_digest(answer, read, self.content_hash, self.version, DISCLAIMER),
        )

    def verify(self, result: Evaluation) -> Verification:
        """Whether ``result`` (a stored one, say) is what this rulebase gives for its profile.

        Checks that the digest matches the content (nothing was edited since it was made),
        that the result names this rulebase, and evaluates the stored profile again to compare
        every field; each difference is named, with the stored value and this rulebase's.
        A profile this rulebase cannot read (an agent its vocabulary does not hold) is a
        difference too.
        """
        differences: list[str] = []
        try:
            again = self.evaluate(self.read_profile(result.profile.model_dump()))
        except (ValidationError, MbcRulesError) as error:
            differences.append(f"profile: this rulebase cannot read it: {error}")
        else:
            # Only the evaluation's own fields: a report's informative tests are not in the digest.
            fields = set(Evaluation.model_fields) - {"digest"}
            stored = result.model_dump(mode="json", include=fields)
            fresh = again.model_dump(mode="json", include=fields)
            differences.extend(_differences(stored, fresh, ""))
        digest_intact = bool(result.digest) and result.digest == result_digest(result)
        same = result.rulebase_hash == self.content_hash
        return Verification(
            verified=digest_intact and same and not differences,
            digest_intact=digest_intact,
            same_rulebase=same,
            differences=tuple(differences),
        )

    def _ranked_answer(
        self,
        fired_ids: frozenset[str],
        male: bool,
        history: TreatmentHistory = NO_HISTORY,
        standing: Standing = NO_STANDING,
        waiting_ids: frozenset[str] = frozenset(),
        complications_unknown: bool = False,
    ) -> _Answer:
        options, not_recommended, advice = self._ranker.answer(
            fired_ids, male, history, standing, waiting_ids
        )
        caveats = [MALE_CAVEAT] if male else []
        if not history.known:
            caveats.append(UNKNOWN_HISTORY_CAVEAT)
        if complications_unknown:
            caveats.append(UNKNOWN_COMPLICATIONS_CAVEAT)
        unknown_outcomes = [u.agent for u in history.uses if u.outcome == "unknown"]
        if unknown_outcomes:
            caveats.append(unknown_outcome_caveat(unknown_outcomes, self.vocabulary))
        if not any(o.category not in SUPPORT_AND_TRIALS for o in options):
            caveats.append(SILENT_CAVEAT)
        fired_rules = self._ranker.in_order(fired_ids)
        named: set[str] = set()
        for option in options:
            named |= self._named_by(option)
        for item in not_recommended:
            named.update(item.agents)
        named.update(use.agent for use in history.uses)
        names = self._names(named)
        answer = answer_digest(options, not_recommended, advice, tuple(caveats), fired_rules, names)
        return options, not_recommended, advice, tuple(caveats), fired_rules, names, answer

    def _named_by(self, option: TreatmentOption) -> frozenset[str]:
        """``named_agents(option)``, remembered by the option's identity: the ranking shares
        its (immutable) options between answers. An entry keeps its option alive, so an id
        is not reused while it is remembered.
        """
        found = self._named_memo.get(id(option))
        if found is not None and found[0] is option:
            return found[1]
        agents = frozenset(named_agents(option))
        if type(option) is TreatmentOption:  # exactly the frozen model: immutable
            if len(self._named_memo) >= _NAMES_BOUND:
                self._named_memo.clear()
            self._named_memo[id(option)] = (option, agents)
        return agents

    def _names(self, agent_ids: Iterable[str]) -> Names:
        """``result_names`` for this rulebase, remembered by the set of ids: every result of
        the rulebase carries the same sources, and answers name the same few sets of drugs.
        What is kept is immutable (frozen models in tuples) and equal to ``result_names``'s.
        """
        key = frozenset(agent_ids)
        found = self._names_memo.get(key)
        if found is None:
            if self._source_names is None:
                self._source_names = result_names(self.vocabulary, self.sources, ()).sources
            agents = self._agent_names
            for agent_id in key - agents.keys():
                agents[agent_id] = result_names(self.vocabulary, {}, (agent_id,)).agents[0]
            found = constructed(
                Names,
                {"agents": tuple(agents[a] for a in sorted(key)), "sources": self._source_names},
            )
            if len(self._names_memo) >= _NAMES_BOUND:
                self._names_memo.clear()
            self._names_memo[key] = found
        return found

    def _check_origin(self, evaluation: Evaluation) -> None:
        if evaluation.rulebase_hash != self.content_hash:
            raise MbcRulesError(
                f"this result came from another rulebase (hash {evaluation.rulebase_hash[:12]}, "
                f"this one is {self.content_hash[:12]}); explain it with the rulebase that "
                "produced it"
            )

    def explain(self, evaluation: Evaluation, subject: str) -> Explanation:
        """Why ``subject`` (a category, or a drug or procedure by any name) is or is not offered.

        ``str(explanation)`` reads as text; the model holds the same in structured form.

        Raises:
            UnknownAgentError: ``subject`` is neither a category nor a known agent.
            MbcRulesError: ``evaluation`` was produced by another rulebase.
        """
        from mbc_rules.explain import explain

        self._check_origin(evaluation)
        return explain(
            subject, evaluation, rules=self.rules, vocabulary=self.vocabulary, sources=self.sources
        )

    def informative_tests(self, evaluation: Evaluation) -> tuple[InformativeTest, ...]:
        """The unknown statuses whose value would change ``evaluation``'s answer, and how.

        ``options`` only ever holds what the profile supports now; what waits on a test is
        listed here (each possible value is evaluated).

        Raises:
            MbcRulesError: ``evaluation`` was produced by another rulebase.
        """
        from mbc_rules.whatif import informative_tests

        self._check_origin(evaluation)
        return informative_tests(
            evaluation,
            evaluate=self._evaluated,
            rules=self.rules,
            sources=self.sources,
            vocabulary=self.vocabulary,
        )

    def report(self, evaluation: Evaluation, format: ReportFormat = "text") -> str:
        """``evaluation`` for a person: ``text`` (``str(evaluation)``) or ``markdown``
        (``evaluation.to_markdown()``); the tests that would change the answer are in it when
        the evaluation carries them (``evaluate(..., informative_tests=True)``).

        Raises:
            MbcRulesError: ``evaluation`` was produced by another rulebase.
        """
        self._check_origin(evaluation)
        return evaluation.to_markdown() if format == "markdown" else str(evaluation)

    def html(self, evaluation: Evaluation) -> str:
        """``evaluation`` as HTML for a notebook (``evaluation._repr_html_()``).

        Raises:
            MbcRulesError: ``evaluation`` was produced by another rulebase.
        """
        self._check_origin(evaluation)
        return evaluation._repr_html_()

    def _repr_html_(self) -> str:
        from mbc_rules.display import rulebase_html

        return rulebase_html(
            version=self.version,
            rules=self.rules,
            sources=self.sources,
            agents=len(self.vocabulary),
            engine=self.engine,
        )

    def __repr__(self) -> str:
        return (
            f"<Rulebase {self.version} rules={len(self.rules)} sources={len(self.sources)} "
            f"agents={len(self.vocabulary)} engine={self.engine}>"
        )


def _differences(stored: Any, fresh: Any, where: str) -> list[str]:
    if isinstance(stored, dict) and isinstance(fresh, dict):
        found = []
        for key in dict.fromkeys([*stored, *fresh]):
            path = f"{where}.{key}" if where else str(key)
            found.extend(_differences(stored.get(key), fresh.get(key), path))
        return found
    if isinstance(stored, list) and isinstance(fresh, list) and len(stored) == len(fresh):
        return [
            difference
            for index, (a, b) in enumerate(zip(stored, fresh, strict=True))
            for difference in _differences(a, b, f"{where}[{index}]")
        ]
    if stored != fresh:
        return [f"{where}: stored {stored!r}, this rulebase gives {fresh!r}"]
    return []


def _problem_order(problem: Problem) -> tuple[str, int]:
    return (str(problem.file or ""), problem.line or 0)


@functools.cache
def _bundled(engine: EngineName) -> Rulebase:
    # The bundled files are hashed at every load; when this exact content, with this exact
    # code, passed every check before (``cache``), and durable-rules' check passed on this
    # build of it, the checked rule set is compiled without checking it again. Anything else,
    # a changed byte among them, gets the full load and its checks.
    texts = bundled_texts()
    if texts is not None:
        checked = read_checked(content_hash(texts), RuleSet)
        if checked is not None and (
            not uses_durable(engine) or durable_checked(checked.content_hash)
        ):
            return Rulebase(checked, engine=engine)
    rulebase = Rulebase.load(bundled_rules_dir(), engine=engine)
    if texts is not None and rulebase.content_hash == content_hash(texts):
        remember_checked(rulebase.ruleset)
    return rulebase
