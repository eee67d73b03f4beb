"""The library's exceptions: one root, one subclass per pipeline stage.

::

    MbcRulesError
    ├── RulebaseError          a rule set could not be loaded; carries every problem found
    │                          (YAML syntax, schema, unknown facts/agents/sources, duplicate
    │                          ids, failing rule examples), each with file, line and rule id
    ├── UnknownAgentError      a prior therapy names a drug the vocabulary does not hold
    │                          (also a ValueError, so pydantic reports it as a field error)
    ├── EngineError            the rule engine failed during an evaluation
    └── FhirReadError          a FHIR record could not be read at all (also a ValueError)

Invalid patient profiles raise :class:`pydantic.ValidationError`, which names the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a rule set, located as precisely as the loader could."""

    file: Path | None
    line: int | None
    rule_id: str | None
    message: str

    def __str__(self) -> str:
        where = str(self.file) if self.file is not None else "<rulebase>"
        if self.line is not None:
            where += f":{self.line}"
        if self.rule_id is not None:
            where += f" [{self.rule_id}]"
        return f"{where}: {self.message}"


class MbcRulesError(Exception):
    """Root of every error the library raises on purpose."""


class RulebaseError(MbcRulesError):
    """A rule set failed to load. ``problems`` lists all that was found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the rule set"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class UnknownAgentError(MbcRulesError, ValueError):
    """A drug or procedure name that the vocabulary does not hold."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown drug or procedure {name!r}{hint}")


class MissingExtraError(MbcRulesError, ImportError):
    """An optional dependency is not installed: ``package``, from the extra ``extra``."""

    def __init__(self, package: str, extra: str) -> None:
        self.package, self.extra = package, extra
        super().__init__(f"{package} is needed for this; install mbc-rules[{extra}]")


class EngineError(MbcRulesError):
    """The rule engine raised while evaluating a profile; no engine state was kept."""


class FhirReadError(MbcRulesError, ValueError):
    """A FHIR record could not be read at all (not JSON, not a Bundle or resource array, no
    resources, several patients and none chosen, too large). Problems inside a readable record
    are warnings or conflicts of the reading, not errors.
    """
