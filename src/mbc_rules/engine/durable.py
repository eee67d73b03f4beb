"""The durable-rules matcher: the engine of record.

This is the only module that touches durable-rules. Its quirks, and how we keep them in here:

* Its Python ``Host`` keeps a global registry of ruleset names, starts timer threads when it is
  built and raises when a fact matches nothing. We bypass the host and drive the C engine
  (``durable_rules_engine``) directly: one ruleset handle per matcher, named uniquely, so that
  any number of rulebases coexist in one process.
* An *event* (``post``) is consumed by the first rule that matches it; a *fact*
  (``assert_fact``) fires every matching rule. We assert the profile as a fact and drain every
  queued action, which gives the full set of rules that fire.
* State is kept per session id, and an engine that keeps about a thousand sessions fails with
  ``MemoryError``. Every evaluation uses a fresh session and deletes it, even when it fails.
* The C engine is not safe to enter from several threads at once: a lock per handle
  serialises calls, so concurrent evaluations never mix. The locks are taken before a fork and
  re-created in the child, so a fork while another thread evaluates never deadlocks.
* It is fragile native code: a KeyboardInterrupt between two of its calls, an exception in the
  middle of the drain, or a rule set beyond its limits can abort the interpreter. Signals are
  held back across the native calls of one evaluation and delivered after its session is
  deleted; any failure rebuilds the ruleset; and every rule set is compiled, and its examples
  run, in a child process at load (``durable_problems``), so a limit is a located load error.
* Its extension does not import on Python 3.13+; the plain-Python matcher (``engine.python``)
  takes over there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mbc_rules._version import __version__
from mbc_rules.cache import cache_dir, code_digest
from mbc_rules.compile import PROFILE_MARK, CompiledRuleset, Expression, compile_rules
from mbc_rules.errors import EngineError, Problem
from mbc_rules.facts import FactValue, derive_facts
from mbc_rules.profile import PatientProfile

if TYPE_CHECKING:
    from mbc_rules.ruleset import RuleSet
    from mbc_rules.validate import Locations


def _import_durable() -> ModuleType | None:
    try:
        import durable_rules_engine
    except ImportError:
        return None
    module: ModuleType = durable_rules_engine
    return module


# Signals whose Python handler may raise (Ctrl-C's KeyboardInterrupt; an application's SIGTERM
# handler raising SystemExit). While an evaluation is inside durable-rules their handlers are
# swapped for a recorder, and what was recorded is delivered once the session is deleted: the
# exception then lands between evaluations, never half-way through one.
# ``signal.getsignal`` and ``signal.signal`` convert handlers to enums by raising and catching
# ValueError (some microseconds each); the C functions underneath are what they wrap.
_signals: Any = getattr(signal, "_signal", signal)
_DEFERRABLE = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)
)


class signals_deferred:  # noqa: N801 - used like contextlib's lower-case context managers
    """Hold back Python signal handlers until the ``with`` block has finished.

    Python runs signal handlers in the main thread only, between bytecodes: in other threads
    there is nothing to hold back.
    """

    __slots__ = ("_caught", "_swapped")

    def __init__(self) -> None:
        self._caught: list[int] = []
        self._swapped: list[tuple[int, Any]] = []

    def _record(self, signum: int, frame: object) -> None:
        self._caught.append(signum)

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _DEFERRABLE:
            if callable(_signals.getsignal(signum)):
                self._swapped.append((signum, _signals.signal(signum, self._record)))

    def __exit__(self, *exc_info: object) -> None:
        swapped, self._swapped = self._swapped, []
        _restore(swapped)
        caught, self._caught = self._caught, []
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def _restore(swapped: list[tuple[int, Any]]) -> None:
    # Each handler is put back even if a signal delivered meanwhile raises.
    if swapped:
        (signum, handler), rest = swapped[0], swapped[1:]
        try:
            _signals.signal(signum, handler)
        finally:
            _restore(rest)


_LIVE: weakref.WeakSet[DurableMatcher] = weakref.WeakSet()
_HELD_AT_FORK: list[DurableMatcher] = []


def _before_fork() -> None:
    # No evaluation may be half-way through the engine when the process is copied: wait for
    # each (bounded), so the child starts with engines at rest and locks it can take.
    for matcher in sorted(_LIVE, key=id):
        if matcher._lock.acquire(timeout=10):
            _HELD_AT_FORK.append(matcher)


def _after_fork_in_parent() -> None:
    while _HELD_AT_FORK:
        _HELD_AT_FORK.pop()._lock.release()


def _after_fork_in_child() -> None:
    held = set(map(id, _HELD_AT_FORK))
    _HELD_AT_FORK.clear()
    for matcher in list(_LIVE):
        matcher._lock = threading.Lock()
        # An engine another thread was still inside when we forked is rebuilt before use.
        matcher._stale = matcher._stale or id(matcher) not in held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def durable_definition(ruleset: CompiledRuleset) -> dict[str, Any]:
    """The JSON ruleset handed to durable-rules (rules ``r<n>`` plus the fallback), its fact
    names as written in the rules (:class:`Encoding` shortens them).
    """
    definition = ruleset.to_durable()
    # Whatever matches nothing else matches this rule, so the engine always opens (and we
    # always delete) a session; its name cannot clash with the positional ``r<n>`` names.
    definition["fallback"] = {"all": [{"m": {PROFILE_MARK: 1}}]}
    return definition


@dataclass(frozen=True)
class Encoding:
    """A ruleset for durable-rules with every name its patterns test shortened to ``f<n>``,
    and the message that asserts a profile's facts to it.

    durable-rules hands each fired rule's action the whole message, written out as JSON: with
    short names and only the facts some rule tests, an evaluation takes a third less time.
    Every name a pattern tests (the profile mark among them) is renamed, so that no name as
    written can meet a short one.
    """

    definition: str
    names: tuple[tuple[str, str], ...]  # each fact a rule tests, and its short name
    mark: str  # the profile mark's short name

    @classmethod
    def of(cls, ruleset: CompiledRuleset) -> Encoding:
        """The encoding of ``ruleset`` (its definition and the facts it reads)."""
        definition = durable_definition(ruleset)
        tested: dict[str, str] = {}
        for rule in definition.values():
            for expression in rule["all"]:
                _collect_names(expression["m"], tested)
        for index, name in enumerate(tested):
            tested[name] = f"f{index}"
        renamed = {
            rule: {"all": [{"m": _renamed(e["m"], tested)} for e in body["all"]]}
            for rule, body in definition.items()
        }
        mark = tested.pop(PROFILE_MARK)
        return cls(json.dumps(renamed), tuple(tested.items()), mark)

    def message(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The facts (with the profile mark) under their short names; facts no rule tests
        are left out.
        """
        message = {short: facts[name] for name, short in self.names if name in facts}
        message[self.mark] = 1
        return message


def _collect_names(expression: Expression, found: dict[str, str]) -> None:
    for key, operand in expression.items():
        if key in ("$and", "$or"):
            for part in operand:
                _collect_names(part, found)
        elif key.startswith("$"):
            for name in operand:
                found.setdefault(name, name)
        else:
            found.setdefault(key, key)


def _renamed(expression: Expression, names: Mapping[str, str]) -> Expression:
    renamed: Expression = {}
    for key, operand in expression.items():
        if key in ("$and", "$or"):
            renamed[key] = [_renamed(part, names) for part in operand]
        elif key.startswith("$"):
            renamed[key] = {names[name]: value for name, value in operand.items()}
        else:
            renamed[names[key]] = operand
    return renamed


class DurableMatcher:
    """Runs the compiled patterns on durable-rules' Rete engine."""

    name = "durable"

    def __init__(self, ruleset: CompiledRuleset) -> None:
        engine = _import_durable()
        if engine is None:
            raise EngineError("durable-rules is not importable on this Python")
        self._engine = engine
        self._rule_of_name = {f"r{i}": rule_id for i, rule_id in enumerate(ruleset.rule_ids)}
        self._lock = threading.Lock()
        self._sessions = itertools.count()
        self._encoding = Encoding.of(ruleset)
        self._definition = self._encoding.definition
        self._stale = False
        self._handle: int | None = self._create()
        _LIVE.add(self)

    def _create(self) -> int:
        handle: int = self._engine.create_ruleset(
            f"mbc-rules-{os.urandom(16).hex()}", self._definition
        )
        return handle

    def _rebuild(self) -> None:
        # The old handle may hold a half-finished session; a fresh ruleset is clean.
        old, self._handle = self._handle, None
        if old is not None and not self._stale:
            with contextlib.suppress(Exception):
                self._engine.delete_ruleset(old)
        self._handle = self._create()
        self._stale = False

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        """The ids of every rule that fires for ``facts``, in a session of its own.

        Raises:
            EngineError: the engine failed (the session is deleted and the engine rebuilt).
        """
        message = self._encoding.message(facts)
        with signals_deferred(), self._lock:
            if self._handle is None:
                raise EngineError("this matcher has been closed")
            if self._stale:
                self._rebuild()
            fired = self._run(message)
        rule_of_name = self._rule_of_name
        return frozenset(rule_of_name[name] for name in fired if name in rule_of_name)

    def _run(self, message: dict[str, Any]) -> set[str]:
        engine, handle = self._engine, self._handle
        session = str(next(self._sessions))
        message["sid"] = session
        fired: set[str] = set()
        failure: BaseException | None = None
        state_handle: int | None = None
        in_action = False
        try:
            code, state_handle = engine.assert_fact(handle, json.dumps(message))
            if code == 0:
                action = engine.start_action_for_state(handle, state_handle)
                payload = action[1] if action else None
                in_action = payload is not None
                while payload:
                    # The payload is '{"r<n>":{...}}': the rule name is its first key,
                    # read without parsing the (large) rest.
                    fired.add(payload[2 : payload.index('"', 2)])
                    payload = engine.complete_and_start_action(handle, state_handle)
                in_action = False
        except BaseException as error:  # any failure: the engine is left clean
            failure = error
        clean = True
        if in_action and state_handle is not None:
            try:
                engine.abandon_action(handle, state_handle)
            except Exception:
                clean = False
        try:
            engine.delete_state(handle, session)
        except Exception:  # a session that was never opened has no state
            clean = clean and failure is not None
        if failure is not None or not clean:
            self._rebuild()
        if failure is not None:
            if not isinstance(failure, Exception):
                raise failure
            raise EngineError(f"durable-rules failed: {failure}") from failure
        return fired

    def close(self) -> None:
        """Release the engine's ruleset. Later calls to ``match`` raise."""
        with self._lock:
            if self._handle is not None:
                handle, self._handle = self._handle, None
                if not self._stale:
                    self._engine.delete_ruleset(handle)

    def __del__(self) -> None:
        # At interpreter shutdown the extension module may already be torn down.
        with contextlib.suppress(Exception):
            self.close()


# The probe runs in a child process: durable-rules aborts the process (SIGABRT, SIGSEGV) on some
# rule sets instead of raising, and a rule file must never be able to take the loader down.
# The child imports nothing of ours: it reads the ruleset and the facts as JSON on stdin and
# reports each step on stdout, so the parent knows where it died.
_PROBE_SCRIPT = r"""
import json, sys
import durable_rules_engine as engine
job = json.load(sys.stdin)
out = sys.stdout
def say(*words):
    out.write(json.dumps(words) + "\n")
    out.flush()
say("compile")
try:
    handle = engine.create_ruleset(job["name"], job["ruleset"])
except Exception as error:
    say("refused", -1, str(error))
    sys.exit(0)
for index, facts in enumerate(job["facts"]):
    say("fact", index)
    session = str(index)
    facts = dict(facts, sid=session)
    fired = []
    try:
        code, state = engine.assert_fact(handle, json.dumps(facts))
        if code == 0:
            action = engine.start_action_for_state(handle, state)
            payload = action[1] if action else None
            while payload:
                fired.append(next(iter(json.loads(payload))))
                payload = engine.complete_and_start_action(handle, state)
        engine.delete_state(handle, session)
    except Exception as error:
        say("refused", index, str(error))
        sys.exit(0)
    say("fired", index, fired)
say("done")
"""


@dataclass(frozen=True)
class ProbeReport:
    """What durable-rules made of a ruleset and some facts, run in a child process.

    ``failed_at`` is None when all went well; -1 when compiling failed; else the index of the
    facts being evaluated. ``fired`` holds the rule names fired for each facts evaluated.
    """

    failed_at: int | None
    message: str
    fired: tuple[frozenset[str], ...]


_PROBE_CACHE_VERSION = "2"  # 2: the short names of ``Encoding``
_passed: set[str] = set()


@functools.cache
def _durable_build() -> str:
    # The extension's path, size and time stand for its version: reading the installed
    # metadata scans every distribution, which costs more than loading the rules.
    engine = _import_durable()
    location = getattr(engine, "__file__", None) or ""
    try:
        status = os.stat(location)
    except OSError:
        return location
    return f"{location} {status.st_size} {status.st_mtime_ns}"


def _probe_key(*parts: str) -> str:
    # The package's source stands for how rules are compiled and encoded for durable-rules:
    # in a checkout the version stays the same while that code changes.
    digest = hashlib.sha256()
    build = (_PROBE_CACHE_VERSION, sys.version, _durable_build(), __version__, code_digest())
    for part in (*build, *parts):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _known_to_pass(key: str) -> bool:
    if key in _passed:
        return True
    folder = cache_dir()
    return folder is not None and (folder / f"durable-probe-{key}").is_file()


def durable_checked(content_hash: str) -> bool:
    """Whether the rule set of ``content_hash`` passed ``durable_problems`` on this build of
    durable-rules and Python (in this process, or in one before it that left its mark).
    """
    return _known_to_pass(_probe_key(content_hash))


def _remember_pass(key: str) -> None:
    # Only a rule set that passed is remembered; the cache is a speed-up, never required.
    _passed.add(key)
    folder = cache_dir()
    if folder is None:
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"durable-probe-{key}").touch()


def probe_durable(
    ruleset: CompiledRuleset, facts: list[dict[str, Any]], *, timeout: float = 60.0
) -> ProbeReport:
    """Compile ``ruleset`` in durable-rules and evaluate each of ``facts``, in a child process.

    Raises:
        EngineError: durable-rules does not import here.
    """
    if _import_durable() is None:
        raise EngineError("durable-rules is not importable on this Python")
    encoding = Encoding.of(ruleset)
    return _run_probe(encoding.definition, [encoding.message(f) for f in facts], timeout)


def _run_probe(definition: str, facts: list[dict[str, Any]], timeout: float) -> ProbeReport:
    import subprocess  # only a rule set not yet checked starts a child

    job = json.dumps(
        {"name": f"probe-{os.urandom(16).hex()}", "ruleset": definition, "facts": facts}
    )
    try:
        child = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT],
            input=job,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output, code = child.stdout, child.returncode
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout if isinstance(expired.stdout, str) else ""
        code = None
    fired: list[frozenset[str]] = []
    at = -1
    for line in output.splitlines():
        with contextlib.suppress(ValueError):
            step = json.loads(line)
            if step[0] == "fact":
                at = step[1]
            elif step[0] == "fired":
                fired.append(frozenset(step[2]))
            elif step[0] == "refused":
                return ProbeReport(step[1], step[2], tuple(fired))
            elif step[0] == "done":
                return ProbeReport(None, "", tuple(fired))
    if code is None:
        what = f"did not finish within {timeout:g} s"
    elif code < 0:
        what = f"crashed ({_signal_name(-code)})"
    else:
        what = f"stopped with exit status {code}"
    stage = "compiling the rule set" if at < 0 else "evaluating"
    return ProbeReport(at, f"durable-rules {what} {stage}", tuple(fired))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# What durable-rules' error codes mean for a rule set (from its rules.h), in the words of ours.
_LIMITS = {
    "106": "more rules than durable-rules takes in one rule set",
    "107": "more alternative tests across the rule set than durable-rules takes (each "
    "alternative of an `any` counts)",
    "108": "more than 255 rules behind one test (durable-rules' beta-list limit)",
    "113": "an `any` (or a negated `all`) with more alternatives than durable-rules' "
    "expression limit",
    "303": "more tests pass at once than durable-rules' 64-entry evaluation stack holds",
}


def _meaning(message: str) -> str:
    code = message.rsplit("error code:", 1)[-1].strip() if "error code:" in message else ""
    limit = _LIMITS.get(code)
    if limit is not None:
        return f"{limit} (durable-rules error {code})"
    return message


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$neq": lambda actual, value: bool(actual != value),
    "$lt": lambda actual, value: bool(actual < value),
    "$lte": lambda actual, value: bool(actual <= value),
    "$gt": lambda actual, value: bool(actual > value),
    "$gte": lambda actual, value: bool(actual >= value),
}


def _worst_case(ruleset: CompiledRuleset) -> dict[str, Any]:
    """Each compared fact set to the value that passes the most of its tests.

    The 64-entry stack overflows when many comparisons pass at once, so each example is also
    run with its comparisons pushed to that worst case.
    """
    tests: dict[str, list[tuple[str, Any]]] = {}

    def collect(expression: Expression) -> None:
        ((key, operand),) = expression.items()
        if key in ("$and", "$or"):
            for part in operand:
                collect(part)
        elif key.startswith("$"):
            ((fact, value),) = operand.items()
            tests.setdefault(fact, []).append((key, value))

    for pattern in ruleset.patterns:
        collect(pattern)
    stressed: dict[str, Any] = {}
    for fact, comparisons in tests.items():
        numbers = [
            v for _, v in comparisons if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        candidates: list[Any] = [n + step for n in numbers for step in (-1, 0, 1)]
        if len(numbers) < len(comparisons):
            candidates = ["\0none", *(v for _, v in comparisons)]
        stressed[fact] = max(
            candidates,
            key=lambda c: sum(_COMPARE[k](c, v) for k, v in comparisons),
        )
    return stressed


def durable_problems(ruleset: RuleSet, locations: Locations) -> list[Problem]:
    """Problems durable-rules has with a validated rule set, found without risking this process.

    The rule set is compiled, and every rule example run (as written and with its comparisons
    pushed to the worst case), in a child process; a limit durable-rules hits or an example
    that it answers differently is reported at the rule, with file and line.

    A rule set that passed is remembered by its content hash (every rule file and the
    package version) with the package's source and the versions of Python and durable-rules,
    in memory and as an empty
    file in the cache folder (``$MBC_RULES_CACHE``, by default ``~/.cache/mbc-rules``; ``off``
    turns it off), so loading the same rules again starts no child process.
    """
    rules, vocabulary = ruleset.rules, ruleset.vocabulary
    key = _probe_key(ruleset.content_hash)
    if _known_to_pass(key):
        return []
    compiled = compile_rules(rules)
    facts: list[dict[str, Any]] = []
    origins: list[tuple[int, int, bool]] = []
    worst = _worst_case(compiled)
    for position, rule in enumerate(rules):
        for index, example in enumerate(rule.examples):
            profile = PatientProfile.model_validate(
                example.profile, context={"vocabulary": vocabulary}
            )
            derived = dict(derive_facts(profile, vocabulary))
            facts.append(derived)
            origins.append((position, index, False))
            stressed = {**derived, **worst}
            if stressed != derived:
                facts.append(stressed)
                origins.append((position, index, True))
    report = probe_durable(compiled, facts)
    advice = 'engine="python" evaluates it'
    if report.failed_at is not None and report.failed_at < 0:
        position = _first_refused_prefix(compiled)
        rule = rules[position]
        where = locations.rules[rule.id]
        message = (
            "durable-rules cannot compile the rule set up to this rule: "
            f"{_meaning(report.message)}; {advice}"
        )
        return [where.problem(message, rule.id)]
    problems: list[Problem] = []
    if report.failed_at is not None:
        position, index, worst_case = origins[report.failed_at]
        rule = rules[position]
        variant = " with its comparisons at their worst case" if worst_case else ""
        message = (
            f"durable-rules fails on example {index + 1}{variant}: "
            f"{_meaning(report.message)}; {advice}"
        )
        problems.append(locations.rules[rule.id].problem(message, rule.id, ("examples", index)))
    for fired, (position, index, worst_case) in zip(report.fired, origins, strict=False):
        rule = rules[position]
        example = rule.examples[index]
        fires = f"r{position}" in fired
        if not worst_case and fires != example.fires:
            expected = "fire" if example.fires else "not fire"
            problems.append(
                locations.rules[rule.id].problem(
                    f"example {index + 1} should {expected}, but on durable-rules the rule "
                    f"{'fires' if fires else 'does not fire'}: the rule set is beyond what "
                    f"durable-rules handles; {advice}",
                    rule.id,
                    ("examples", index),
                )
            )
    if not problems:
        _remember_pass(key)
    return problems


def _first_refused_prefix(compiled: CompiledRuleset) -> int:
    """The position of the rule from which durable-rules refuses the rules before it too."""
    low, high = 0, len(compiled.rule_ids) - 1  # the whole set is refused
    while low < high:
        middle = (low + high) // 2
        end = middle + 1
        prefix = CompiledRuleset(
            compiled.rule_ids[:end], compiled.patterns[:end], compiled.conditions[:end]
        )
        if _run_probe(Encoding.of(prefix).definition, [], 60.0).failed_at is None:
            low = middle + 1
        else:
            high = middle
    return low
