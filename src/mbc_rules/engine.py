"""Stage 5, evaluate: match a profile's facts against the compiled rules.

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
  serialises calls, so concurrent evaluations never mix.
* Its extension does not import on Python 3.13+; the plain-Python matcher interprets the same
  compiled patterns and takes over there.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import uuid
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Literal, Protocol

from mbc_rules.compile import CompiledRuleset, Expression
from mbc_rules.errors import EngineError
from mbc_rules.facts import FactValue

EngineName = Literal["auto", "durable", "python", "compiled"]


class Matcher(Protocol):
    """Finds the rules whose conditions a set of facts meets."""

    name: str

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        """The ids of every rule that fires for ``facts`` (empty when none does)."""
        ...


def _holds(expression: Expression, facts: Mapping[str, Any]) -> bool:
    ((key, operand),) = expression.items()
    if key == "$and":
        return all(_holds(part, facts) for part in operand)
    if key == "$or":
        return any(_holds(part, facts) for part in operand)
    if key in ("$neq", "$lt", "$lte", "$gt", "$gte"):
        ((fact, value),) = operand.items()
        actual = facts.get(fact)
        if key == "$neq":
            return bool(actual != value)
        if actual is None:
            return False
        if key == "$lt":
            return bool(actual < value)
        if key == "$lte":
            return bool(actual <= value)
        if key == "$gt":
            return bool(actual > value)
        return bool(actual >= value)
    return bool(facts.get(key) == operand)


class PythonMatcher:
    """Interprets the compiled patterns in plain Python: no durable-rules, no shared state."""

    name = "python"

    def __init__(self, ruleset: CompiledRuleset) -> None:
        self._rules = tuple(zip(ruleset.rule_ids, ruleset.patterns, strict=True))

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        marked = {**facts, "mbc_profile": 1}
        return frozenset(rule_id for rule_id, pattern in self._rules if _holds(pattern, marked))


def _import_durable() -> ModuleType | None:
    try:
        import durable_rules_engine
    except ImportError:
        return None
    module: ModuleType = durable_rules_engine
    return module


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
        definition = ruleset.to_durable()
        # Whatever matches nothing else matches this rule, so the engine always opens (and we
        # always delete) a session; its name cannot clash with the positional ``r<n>`` names.
        definition["fallback"] = {"all": [{"m": {"mbc_profile": 1}}]}
        self._handle: int | None = engine.create_ruleset(
            f"mbc-rules-{uuid.uuid4().hex}", json.dumps(definition)
        )

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        engine = self._engine
        with self._lock:
            handle = self._handle
            if handle is None:
                raise EngineError("this matcher has been closed")
            session = str(next(self._sessions))
            message = json.dumps({**facts, "mbc_profile": 1, "sid": session})
            fired: set[str] = set()
            try:
                code, state_handle = engine.assert_fact(handle, message)
                if code == 0:
                    action = engine.start_action_for_state(handle, state_handle)
                    payload = action[1] if action else None
                    while payload:
                        # The payload is '{"r<n>":{...}}': the rule name is its first key,
                        # read without parsing the (large) rest.
                        fired.add(payload[2 : payload.index('"', 2)])
                        payload = engine.complete_and_start_action(handle, state_handle)
            except Exception as error:
                raise EngineError(f"durable-rules failed: {error}") from error
            finally:
                # A session that was never opened has no state to delete.
                with contextlib.suppress(Exception):
                    engine.delete_state(handle, session)
        rule_of_name = self._rule_of_name
        return frozenset(rule_of_name[name] for name in fired if name in rule_of_name)

    def close(self) -> None:
        """Release the engine's ruleset. Later calls to ``match`` raise."""
        with self._lock:
            if self._handle is not None:
                self._engine.delete_ruleset(self._handle)
                self._handle = None

    def __del__(self) -> None:
        # At interpreter shutdown the extension module may already be torn down.
        with contextlib.suppress(Exception):
            self.close()


_warned_fallback = False


def make_matcher(ruleset: CompiledRuleset, engine: EngineName = "auto") -> Matcher:
    """Build the matcher ``engine`` names; ``auto`` prefers durable-rules when it imports.

    Raises:
        EngineError: ``engine="durable"`` where durable-rules cannot be imported.
    """
    global _warned_fallback
    if engine == "python":
        return PythonMatcher(ruleset)
    if engine == "compiled":
        from mbc_rules.engine_compiled import CompiledMatcher

        return CompiledMatcher(ruleset)
    if engine == "durable" or _import_durable() is not None:
        return DurableMatcher(ruleset)
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            "durable-rules cannot be imported on this Python; using the plain-Python matcher",
            RuntimeWarning,
            stacklevel=3,
        )
    return PythonMatcher(ruleset)
