"""The compiled matcher: the compiled patterns turned into one Python function at load.

The plain-Python matcher walks the JSON pattern tree on every call; this one walks it once,
when the rulebase is built, and writes a function that tests every distinct sub-test once and
then each rule as a plain boolean expression over those tests. The generated text is built
only from the validated condition tree: every fact name is checked against ``FACTS`` and
every operand is checked to be a ``str``, ``int`` or ``bool`` and written with ``repr``; rule
ids never enter the text (they are passed in as a tuple). Nothing else a rule file says can
reach the code.

It means exactly what the other matchers mean (the agreement tests hold it to durable-rules).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mbc_rules.compile import PROFILE_MARK, CompiledRuleset, Expression
from mbc_rules.errors import EngineError
from mbc_rules.facts import FACTS, FactValue

_COMPARISONS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}


def _operand(value: Any) -> str:
    # type() and not isinstance: a str or int subclass could carry its own __repr__.
    if type(value) not in (str, int, bool):
        raise EngineError(f"a condition operand must be text, a number or true/false: {value!r}")
    return repr(value)


class _Writer:
    """Emits one local per fact read and one per distinct leaf test."""

    def __init__(self) -> None:
        self.facts: dict[str, str] = {}
        self.tests: dict[str, str] = {}
        self.lines: list[str] = []

    def _fact(self, name: str) -> str:
        if name not in FACTS:
            raise EngineError(f"a condition names an unknown fact: {name!r}")
        local = self.facts.get(name)
        if local is None:
            local = self.facts[name] = f"v{len(self.facts)}"
            self.lines.append(f"    {local} = get({name!r})")
        return local

    def _test(self, key: str, code: str) -> str:
        local = self.tests.get(key)
        if local is None:
            local = self.tests[key] = f"t{len(self.tests)}"
            self.lines.append(f"    {local} = {code}")
        return local

    def expression(self, expression: Expression) -> str:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise EngineError(f"not a compiled condition: {expression!r}")
        ((key, operand),) = expression.items()
        if key in ("$and", "$or"):
            if not isinstance(operand, list) or not operand:
                raise EngineError(f"not a compiled condition: {expression!r}")
            parts = [self.expression(part) for part in operand]
            joiner = " and " if key == "$and" else " or "
            return "(" + joiner.join(parts) + ")"
        if key == PROFILE_MARK:
            return "True"  # every profile carries the mark
        signature = json.dumps(expression, sort_keys=True)
        if key == "$neq" or key in _COMPARISONS:
            if not isinstance(operand, dict) or len(operand) != 1:
                raise EngineError(f"not a compiled condition: {expression!r}")
            ((fact, value),) = operand.items()
            local, literal = self._fact(fact), _operand(value)
            if key == "$neq":
                return self._test(signature, f"{local} != {literal}")
            op = _COMPARISONS[key]
            return self._test(signature, f"({local} is not None and {local} {op} {literal})")
        if key.startswith("$"):
            raise EngineError(f"not a compiled condition: {expression!r}")
        return self._test(signature, f"{self._fact(key)} == {_operand(operand)}")


def generate_source(ruleset: CompiledRuleset) -> str:
    """The text of the matching function for ``ruleset`` (for review and for the tests)."""
    writer = _Writer()
    rule_lines = []
    for index, pattern in enumerate(ruleset.patterns):
        condition = writer.expression(pattern)
        rule_lines.append(f"    if {condition}:\n        add(RULE_IDS[{index}])")
    return "\n".join(
        [
            "def match(facts):",
            "    get = facts.get",
            *writer.lines,
            "    fired = []",
            "    add = fired.append",
            *rule_lines,
            "    return frozenset(fired)",
            "",
        ]
    )


class CompiledMatcher:
    """Runs the compiled patterns as one generated Python function."""

    name = "compiled"

    def __init__(self, ruleset: CompiledRuleset) -> None:
        source = generate_source(ruleset)
        namespace: dict[str, Any] = {
            "__builtins__": {"frozenset": frozenset, "True": True},
            "RULE_IDS": tuple(ruleset.rule_ids),
        }
        exec(compile(source, "<mbc-rules compiled matcher>", "exec"), namespace)
        self.source = source
        self._match: Callable[[Mapping[str, FactValue]], frozenset[str]] = namespace["match"]

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        """The ids of every rule that fires for ``facts`` (empty when none does)."""
        return self._match(facts)
