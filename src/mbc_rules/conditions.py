"""What a condition means: the one definition of the rule files' condition language.

A condition is a tree of ``all``, ``any`` and ``not`` over fact tests (``equals``,
``not_equals``, ``in``, ``not_in``, ``at_least``, ``at_most``), or ``always``, which holds for
every patient (and so, under ``not``, for none). :func:`holds` gives its
verdict for a set of derived facts; :func:`trace` gives the same verdict together with the
verdict of every node, so that an explanation reads back exactly what was evaluated.

Every other reading of the language is checked against this module: the plain-Python matcher
calls it, the durable-rules compiler is tested against it (a property over generated
conditions and facts), and explanations and rule examples read its trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mbc_rules.facts import FactValue
from mbc_rules.schema import AllOf, Always, AnyOf, Condition, FactTest, NotOf

Operator = Literal["equals", "not_equals", "in", "not_in", "at_least", "at_most"]
Operand = FactValue | tuple[FactValue, ...]
OPERATORS: tuple[Operator, ...] = ("equals", "not_equals", "in", "not_in", "at_least", "at_most")


def passes(operator: str, operand: object, actual: FactValue) -> bool:
    """Whether a fact whose value is ``actual`` passes the test ``operator operand``."""
    if operator == "equals":
        return actual == operand
    if operator == "not_equals":
        return actual != operand
    if operator == "in":
        return actual in operand  # type: ignore[operator]
    if operator == "not_in":
        return actual not in operand  # type: ignore[operator]
    # Counts are whole numbers; a flag (a bool) is never a count.
    if not isinstance(actual, int) or isinstance(actual, bool):
        return False
    if operator == "at_least":
        return actual >= operand  # type: ignore[operator]
    if operator == "at_most":
        return actual <= operand  # type: ignore[operator]
    raise ValueError(f"unknown operator {operator!r}")


def negation(operator: str, operand: Operand) -> tuple[Operator, Operand]:
    """The test that passes exactly when ``operator operand`` fails (on a fact that is present).

    On counts, "not at least k" is "at most k - 1" and "not at most k" is "at least k + 1".
    """
    if operator == "at_least" and isinstance(operand, int):
        return "at_most", operand - 1
    if operator == "at_most" and isinstance(operand, int):
        return "at_least", operand + 1
    opposite: dict[str, Operator] = {
        "equals": "not_equals",
        "not_equals": "equals",
        "in": "not_in",
        "not_in": "in",
    }
    return opposite[operator], operand


def _operand(test: FactTest) -> Operand:
    operand = test.operand
    return tuple(operand) if isinstance(operand, list) else operand


def holds(condition: Condition, facts: Mapping[str, FactValue]) -> bool:
    """The verdict of ``condition`` for ``facts``.

    ``facts`` holds every fact (as :func:`mbc_rules.facts.derive_facts` returns them): a
    condition on a fact that is absent raises KeyError rather than guess its value.
    """
    if isinstance(condition, FactTest):
        return passes(condition.operator, condition.operand, facts[condition.fact])
    if isinstance(condition, AllOf):
        return all(holds(part, facts) for part in condition.all)
    if isinstance(condition, AnyOf):
        return any(holds(part, facts) for part in condition.any)
    if isinstance(condition, NotOf):
        return not holds(condition.not_, facts)
    if isinstance(condition, Always):
        return True
    raise TypeError(f"not a condition: {condition!r}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One fact test, the value the fact had, and whether it passed.

    In a trace read with :func:`read`, the test is the one under the ``not`` nodes above it
    (negation pushed to the leaf): ``not {at_least: 2}`` on a count of 3 reads ``at_most 1``,
    not held.
    """

    fact: str
    operator: Operator
    operand: Operand
    actual: FactValue
    held: bool


@dataclass(frozen=True, slots=True)
class Trace:
    """One node of a condition with its verdict; a fact test's node holds its reading.

    ``parts`` are the traces of an ``all``'s or ``any``'s parts, or the one part of a ``not``.
    Every part is evaluated (no short circuit), so the trace shows the whole condition.
    ``always`` has neither parts nor a reading; read under a ``not`` (:func:`read`) it is
    ``never``, which no condition writes.
    """

    kind: Literal["all", "any", "not", "fact", "always", "never"]
    held: bool
    parts: tuple[Trace, ...] = ()
    test: Reading | None = None


def trace(condition: Condition, facts: Mapping[str, FactValue]) -> Trace:
    """The verdict of ``condition`` for ``facts``, and that of every node below it."""
    if isinstance(condition, FactTest):
        actual = facts[condition.fact]
        operator: Operator = condition.operator  # type: ignore[assignment]
        held = passes(operator, condition.operand, actual)
        reading = Reading(condition.fact, operator, _operand(condition), actual, held)
        return Trace(kind="fact", held=held, test=reading)
    if isinstance(condition, NotOf):
        inner = trace(condition.not_, facts)
        return Trace(kind="not", held=not inner.held, parts=(inner,))
    if isinstance(condition, AllOf):
        parts = tuple(trace(part, facts) for part in condition.all)
        return Trace(kind="all", held=all(p.held for p in parts), parts=parts)
    if isinstance(condition, AnyOf):
        parts = tuple(trace(part, facts) for part in condition.any)
        return Trace(kind="any", held=any(p.held for p in parts), parts=parts)
    if isinstance(condition, Always):
        return Trace(kind="always", held=True)
    raise TypeError(f"not a condition: {condition!r}")


def read(node: Trace, negated: bool = False) -> Trace:
    """The trace with every ``not`` pushed down to the fact tests (De Morgan).

    The result has no ``not`` nodes: an ``all`` under a ``not`` reads as an ``any`` of the
    negated parts, and a fact test as its :func:`negation`. Verdicts are unchanged: the
    returned tree holds exactly when ``node`` holds (or fails, when ``negated``).
    """
    if node.kind == "not":
        return read(node.parts[0], not negated)
    if node.test is not None:
        if not negated:
            return node
        test = node.test
        operator, operand = negation(test.operator, test.operand)
        reading = Reading(test.fact, operator, operand, test.actual, not test.held)
        return Trace(kind="fact", held=reading.held, test=reading)
    if node.kind in ("always", "never"):
        if not negated:
            return node
        return Trace(kind="never" if node.kind == "always" else "always", held=not node.held)
    kind = node.kind
    if negated:
        kind = "any" if kind == "all" else "all"
    return Trace(
        kind=kind, held=node.held != negated, parts=tuple(read(p, negated) for p in node.parts)
    )


def deciding(node: Trace) -> tuple[Reading, ...]:
    """The fact tests that decide ``node``'s verdict, read with negation pushed down.

    When the condition holds: the tests that made it hold (for an ``any``, those of its first
    part that holds). When it fails: the tests that failed (for an ``any``, those of every
    part, since each would have had to hold). ``always`` is decided by no test.
    """
    return _deciding(read(node))


def _deciding(node: Trace) -> tuple[Reading, ...]:
    if node.test is not None:
        return (node.test,)
    if node.kind == "any" and node.held:
        first = next(p for p in node.parts if p.held)
        return _deciding(first)
    return tuple(r for p in node.parts if p.held == node.held for r in _deciding(p))
