"""The durable-rules check of a cohort: sampled rows evaluated again by the engine of record.

``verify=N`` re-evaluates N sampled rows through durable-rules (where it imports) and raises
:class:`VerificationError` on any difference in the fired rules or the long table's rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mbc_rules.cohort.reading import frame_reader
from mbc_rules.errors import MbcRulesError
from mbc_rules.rulebase import Rulebase

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import pandas as pd

DEFAULT_VERIFY = 200


class VerificationError(MbcRulesError):
    """The columnar engine and durable-rules disagree on a row (a bug: please report it)."""


def verify_sample(
    frame: pd.DataFrame,
    names: Sequence[str],
    rulebase: Rulebase,
    watch: set[int],
    row_fired: Mapping[int, frozenset[str]],
    long: pd.DataFrame,
    ids: np.ndarray,
) -> None:
    """Raise VerificationError if durable-rules fires other rules or gives other long rows for
    any row of ``watch`` (positions) than the columnar engine did (``row_fired``, ``long``).
    """
    from mbc_rules.engine import _import_durable

    if not watch or _import_durable() is None:
        return
    oracle = durable_oracle(rulebase)
    reader = frame_reader(frame, names)
    positions = long["_position"].to_numpy()
    for position in sorted(watch):
        if position not in row_fired:
            continue
        label = frame.index[position]
        mapping = reader(position)
        expected = oracle.evaluate(mapping)
        got = row_fired[position]
        differ = sorted(set(expected.fired_rules) ^ got)
        if differ:
            raise VerificationError(
                f"row {label!r} (patient {ids[position]!r}): rule {differ[0]} fires on "
                f"{'durable-rules' if differ[0] in expected.fired_rules else 'the columnar engine'}"
                " only"
            )
        mine = long[positions == position]
        ours = [
            (str(c), int(r), str(t), tuple(a), tuple(s))
            for c, r, t, a, s in zip(
                mine["category"],
                mine["rank"],
                mine["tier"],
                mine["agents"],
                mine["source_ids"],
                strict=True,
            )
        ]
        theirs = [
            (o.category, o.rank, o.tier, tuple(o.agents), tuple(o.source_ids))
            for o in expected.options
        ]
        if ours != theirs:
            first = next(
                (a, b)
                for a, b in zip(ours + [None] * 10, theirs + [None] * 10, strict=False)
                if a != b
            )
            raise VerificationError(
                f"row {label!r} (patient {ids[position]!r}): the columnar engine gives "
                f"{first[0]} where durable-rules gives {first[1]} (rules: "
                f"{', '.join(expected.fired_rules)})"
            )


# The durable-rules twin of each rulebase, kept while the rulebase lives. Weakly keyed by the
# rulebase itself: keyed by id(), a new rulebase at a freed one's address was handed the old
# one's oracle (other rules), and nothing was ever let go. The twin holds no reference back.
_ORACLES: weakref.WeakKeyDictionary[Rulebase, Rulebase] = weakref.WeakKeyDictionary()


def durable_oracle(rulebase: Rulebase) -> Rulebase:
    """The durable-rules twin of ``rulebase`` (itself when it is on durable-rules)."""
    if rulebase.engine == "durable":
        return rulebase
    found = _ORACLES.get(rulebase)
    if found is None:
        found = _ORACLES[rulebase] = rulebase.with_engine("durable")
    return found
