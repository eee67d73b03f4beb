"""Stage 5, evaluate: match a profile's facts against the compiled rules.

Every matcher answers the same question (which rules fire for these facts?) and must agree
with ``conditions``, the reference semantics:

* ``durable``: durable-rules' Rete engine, the engine of record (``engine.durable``, the only
  module that imports durable-rules);
* ``python``: the conditions evaluated in plain Python (``engine.python``), used where
  durable-rules does not import;
* ``compiled``: the conditions turned into one generated Python function at load
  (``engine.compiled``), the fastest single evaluation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal, Protocol

from mbc_rules.compile import CompiledRuleset
from mbc_rules.engine.compiled import CompiledMatcher
from mbc_rules.engine.durable import (
    DurableMatcher,
    _import_durable,
    durable_checked,
    durable_problems,
)
from mbc_rules.engine.python import PythonMatcher
from mbc_rules.errors import EngineError
from mbc_rules.facts import FactValue

EngineName = Literal["auto", "durable", "python", "compiled"]

__all__ = [
    "CompiledMatcher",
    "DurableMatcher",
    "EngineName",
    "Matcher",
    "PythonMatcher",
    "_import_durable",
    "durable_checked",
    "durable_problems",
    "make_matcher",
    "uses_durable",
]


class Matcher(Protocol):
    """Finds the rules whose conditions a set of facts meets."""

    name: str

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        """The ids of every rule that fires for ``facts`` (empty when none does)."""
        ...


def uses_durable(engine: EngineName) -> bool:
    """Whether ``make_matcher`` builds a durable-rules matcher for ``engine`` here."""
    return engine in ("auto", "durable") and _import_durable() is not None


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
        return CompiledMatcher(ruleset)
    if _import_durable() is not None:
        return DurableMatcher(ruleset)
    if engine == "durable":
        raise EngineError("durable-rules is not importable on this Python")
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            "durable-rules cannot be imported on this Python; using the plain-Python matcher",
            RuntimeWarning,
            stacklevel=3,
        )
    return PythonMatcher(ruleset)
