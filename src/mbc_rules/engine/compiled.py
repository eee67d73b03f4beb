"""The compiled matcher: the rules' conditions turned into one Python function at load.

The plain-Python matcher walks every condition tree on every call; this one walks them once,
when the rulebase is built, and writes a function that reads each fact once, computes each
distinct fact test once, and then each rule as a plain boolean expression over those tests.
Each test is written as what :func:`mbc_rules.conditions.passes` means by it (the agreement
tests hold the two, and durable-rules, to the same answers).

The generated text is built only from the validated condition tree: every fact name is
checked against ``FACTS`` and every operand is checked to be exactly a ``str``, ``int`` or
``bool`` (or a list of them) and written with ``repr``; rule ids never enter the text (they
are passed in as a tuple). Nothing else a rule file says can reach the code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mbc_rules.compile import CompiledRuleset
from mbc_rules.errors import EngineError
from mbc_rules.facts import FACTS, FactValue
from mbc_rules.schema import AllOf, Always, AnyOf, Condition, FactTest, NotOf


def _literal(value: Any) -> str:
    # type() and not isinstance: a str or int subclass could carry its own __repr__.
    if type(value) not in (str, int, bool):
        raise EngineError(f"a condition operand must be text, a number or true/false: {value!r}")
    return repr(value)


def _check_fact(name: object) -> None:
    if type(name) is not str or name not in FACTS:
        raise EngineError(f"a condition names an unknown fact: {name!r}")


class _Writer:
    """Emits one local per fact read and one per distinct fact test."""

    def __init__(self) -> None:
        self.facts: dict[str, str] = {}
        self.tests: dict[tuple[str, str, str], str] = {}
        self.lines: list[str] = []

    def _fact(self, name: str) -> str:
        _check_fact(name)
        local = self.facts.get(name)
        if local is None:
            local = self.facts[name] = f"v{len(self.facts)}"
            self.lines.append(f"    {local} = facts[{name!r}]")
        return local

    def _test(self, test: FactTest) -> str:
        value = self._fact(test.fact)
        operator, operand = test.operator, test.operand
        if operator in ("in", "not_in"):
            if not isinstance(operand, list | tuple):
                raise EngineError(f"{operator} needs a list: {operand!r}")
            literal = "(" + "".join(f"{_literal(v)}, " for v in operand) + ")"
            code = f"{value} {'in' if operator == 'in' else 'not in'} {literal}"
        elif operator in ("equals", "not_equals"):
            code = f"{value} {'==' if operator == 'equals' else '!='} {_literal(operand)}"
        elif operator in ("at_least", "at_most"):
            # A count is a whole number, and a flag (a bool) is never one.
            comparison = ">=" if operator == "at_least" else "<="
            code = f"({value}.__class__ is int and {value} {comparison} {_literal(operand)})"
        else:
            raise EngineError(f"unknown operator {operator!r}")
        key = (test.fact, operator, code)
        local = self.tests.get(key)
        if local is None:
            local = self.tests[key] = f"t{len(self.tests)}"
            self.lines.append(f"    {local} = {code}")
        return local

    def condition(self, condition: Condition) -> str:
        if isinstance(condition, FactTest):
            return self._test(condition)
        if isinstance(condition, AllOf):
            return "(" + " and ".join(self.condition(c) for c in condition.all) + ")"
        if isinstance(condition, AnyOf):
            return "(" + " or ".join(self.condition(c) for c in condition.any) + ")"
        if isinstance(condition, NotOf):
            return f"(not {self.condition(condition.not_)})"
        if isinstance(condition, Always):
            return "True"
        raise EngineError(f"not a condition: {condition!r}")

    def but_for_timing(self, condition: Condition, negate: bool = False) -> str:
        """``condition`` (its negation, when ``negate``) with every test on the treatment
        history taken as met, as :func:`mbc_rules.rank.holds_but_for_timing` reads it.
        """
        if isinstance(condition, FactTest):
            _check_fact(condition.fact)
            if FACTS[condition.fact].is_timing:
                return "True"
            test = self._test(condition)
            return f"(not {test})" if negate else test
        if isinstance(condition, NotOf):
            return self.but_for_timing(condition.not_, not negate)
        if isinstance(condition, AllOf | AnyOf):
            parts = condition.all if isinstance(condition, AllOf) else condition.any
            conjunction = isinstance(condition, AllOf) != negate
            if not parts:
                return "True" if conjunction else "False"
            joiner = " and " if conjunction else " or "
            return "(" + joiner.join(self.but_for_timing(c, negate) for c in parts) + ")"
        if isinstance(condition, Always):
            return "False" if negate else "True"
        raise EngineError(f"not a condition: {condition!r}")


def _function(rule_ids: tuple[str, ...], source: str) -> Callable[..., frozenset[str]]:
    namespace: dict[str, Any] = {
        "__builtins__": {"frozenset": frozenset, "int": int},
        "RULE_IDS": rule_ids,
    }
    exec(compile(source, "<mbc-rules compiled matcher>", "exec"), namespace)
    function: Callable[..., frozenset[str]] = namespace["match"]
    return function


def generate_source(ruleset: CompiledRuleset) -> str:
    """The text of the matching function for ``ruleset`` (for review and for the tests)."""
    writer = _Writer()
    rule_lines = []
    for index, condition in enumerate(ruleset.conditions):
        rule_lines.append(f"    if {writer.condition(condition)}:\n        add(RULE_IDS[{index}])")
    return "\n".join(
        [
            "def match(facts):",
            *writer.lines,
            "    fired = []",
            "    add = fired.append",
            *rule_lines,
            "    return frozenset(fired)",
            "",
        ]
    )


class CompiledMatcher:
    """Runs the rules' conditions as one generated Python function."""

    name = "compiled"

    def __init__(self, ruleset: CompiledRuleset) -> None:
        source = generate_source(ruleset)
        self.source = source
        self._match: Callable[[Mapping[str, FactValue]], frozenset[str]] = _function(
            tuple(ruleset.rule_ids), source
        )

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        """The ids of every rule whose condition holds for ``facts``."""
        return self._match(facts)


def generate_waiting_source(conditions: Sequence[Condition]) -> str:
    """The text of the function that finds, among rules with these conditions, those that did
    not fire only because of a test on the treatment history (for review and for the tests).
    """
    writer = _Writer()
    rule_lines = []
    for index, condition in enumerate(conditions):
        relaxed = writer.but_for_timing(condition)
        rule_lines.append(
            f"    if RULE_IDS[{index}] not in fired and {relaxed}:\n        add(RULE_IDS[{index}])"
        )
    return "\n".join(
        [
            "def match(facts, fired):",
            *writer.lines,
            "    waiting = []",
            "    add = waiting.append",
            *rule_lines,
            "    return frozenset(waiting)",
            "",
        ]
    )


class CompiledWaiting:
    """:func:`mbc_rules.rank.waiting_rules` for a fixed set of rules, as one generated function.

    Built from the offering rules whose conditions test the treatment history; every engine
    uses it (it reads the derived facts, not the engine), and the tests hold it to
    ``waiting_rules``.
    """

    def __init__(self, rule_ids: Sequence[str], conditions: Sequence[Condition]) -> None:
        if len(rule_ids) != len(conditions):
            raise EngineError("one condition per rule id is needed")
        self.source = generate_waiting_source(conditions)
        self._waiting: Callable[[Mapping[str, FactValue], frozenset[str]], frozenset[str]] = (
            _function(tuple(rule_ids), self.source)
        )

    def __call__(self, facts: Mapping[str, FactValue], fired: frozenset[str]) -> frozenset[str]:
        """The ids of the rules, not in ``fired``, that hold for ``facts`` but for timing."""
        return self._waiting(facts, fired)
