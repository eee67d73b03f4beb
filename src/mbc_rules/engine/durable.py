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
  serialises calls, so concurrent evaluations never mix.
* Its extension does not import on Python 3.13+; the plain-Python matcher (``engine.python``)
  takes over there.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import uuid
from collections.abc import Mapping
from types import ModuleType

from mbc_rules.compile import CompiledRuleset
from mbc_rules.errors import EngineError
from mbc_rules.facts import FactValue


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
        """The ids of every rule that fires for ``facts``, in a session of its own.

        Raises:
            EngineError: the engine failed (the session is deleted all the same).
        """
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
