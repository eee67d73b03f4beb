"""RuleSet: the validated rules of a rulebase as one frozen value.

The sources, the vocabulary, the rules, the statements of the inventory (with the rules that
cite them), the version and the content hash. It holds no engine and no memory, so it pickles,
compares and is shared safely. Validation produces it (``validate.validate_files``, with the
locations of its rules and statements beside it); a :class:`~mbc_rules.rulebase.Rulebase` is a
rule set with a matcher and a memo over it (``Rulebase.ruleset``, ``Rulebase.from_ruleset``),
and what a rulebase pickles and the cache of checked rule sets keeps is this value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mbc_rules.schema import CoverageEntry, Rule, Source
from mbc_rules.vocabulary import Vocabulary

__all__ = ["RuleSet"]


@dataclass(frozen=True, eq=False)
class RuleSet:
    """The validated rules, immutable: two rule sets are equal when their content hashes are.

    ``sources`` is a read-only view; ``rules`` and ``statements`` are tuples of frozen models.
    """

    sources: Mapping[str, Source]
    vocabulary: Vocabulary
    rules: tuple[Rule, ...]
    statements: tuple[CoverageEntry, ...]
    version: str
    content_hash: str
    _by_id: Mapping[str, Rule] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # A copy behind a read-only view: the caller's dict can change no rule set.
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "statements", tuple(self.statements))
        by_id = MappingProxyType({rule.id: rule for rule in self.rules})
        object.__setattr__(self, "_by_id", by_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and other.content_hash == self.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __reduce__(self) -> tuple[Any, ...]:
        # A mapping proxy does not pickle: the rule set travels as its fields (to a Dask or
        # Spark worker, or into the cache of checked rule sets).
        fields = (
            dict(self.sources),
            self.vocabulary,
            self.rules,
            self.statements,
            self.version,
            self.content_hash,
        )
        return (RuleSet, fields)

    @property
    def rules_by_id(self) -> Mapping[str, Rule]:
        """The rules by id (read-only)."""
        return self._by_id
