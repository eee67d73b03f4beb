"""A cohort in a few numbers: what ranks first, which rules fire, and which rows failed.

A patient whose first rank is shared by two categories is one patient: each category counts
that patient once in ``patients`` (first alone or tied), and the ``share`` column splits the
patient between them, so that the shares add up to the patients who have any option. Rows
that could not be evaluated are counted, never silently left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mbc_rules.extras import optional, pandas_module
from mbc_rules.result import EvaluationValues
from mbc_rules.vocabulary import CATEGORY_ORDER

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class CohortSummary:
    """How often each category ranks first, how often each rule fires, and the row counts.

    ``patients`` is the number evaluated; ``rows`` adds the ``failed`` ones.
    ``totals``: rows given, evaluated, failed, with no option, with a tied first place.
    ``first_choice``: one row per category ranked first for someone: ``patients`` (first,
    alone or tied), ``alone``, ``tied``, ``share`` (a patient tied k ways counts 1/k) and
    ``percent`` of the evaluated patients.
    ``rule_fired``: one row per rule that fired: ``patients`` and ``percent``.
    """

    rows: int
    patients: int
    failed: int
    totals: pd.DataFrame
    first_choice: pd.DataFrame
    rule_fired: pd.DataFrame

    def plot(self, ax: Any = None) -> Any:
        """A bar chart of how often each category ranks first (needs matplotlib); ties are
        drawn as a lighter segment. Returns the matplotlib Axes.
        """
        plt = optional("matplotlib.pyplot", "plot")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        frame = self.first_choice
        categories = list(frame.index)
        ax.barh(categories, list(frame["alone"]), label="first alone")
        ax.barh(categories, list(frame["tied"]), left=list(frame["alone"]), label="tied first")
        ax.invert_yaxis()
        ax.set_xlabel("patients for whom it ranks first")
        ax.set_title(f"First-ranked category, {self.patients} patients ({self.failed} failed)")
        ax.legend(loc="lower right")
        return ax

    def _repr_html_(self) -> str:
        numbers = (
            f"<p style='text-align:left'><b>{self.rows} rows</b>: {self.patients} "
            f"evaluated, {self.failed} failed.</p>"
        )
        return (
            "<div style='text-align:left'>"
            + numbers
            + "<b>First choice</b>"
            + self.first_choice.to_html(float_format=lambda x: f"{x:.1f}")
            + "<b>Rules fired</b> (the 15 most often)"
            + self.rule_fired.head(15).to_html(float_format=lambda x: f"{x:.1f}")
            + "</div>"
        )

    def __str__(self) -> str:
        return (
            f"{self.rows} rows: {self.patients} evaluated, {self.failed} failed\n"
            f"first choice:\n{self.first_choice.to_string()}\n"
        )


def summarise(
    evaluations: Iterable[EvaluationValues], failed: int, *, rows: int | None = None
) -> CohortSummary:
    """Summarise evaluated patients; ``failed`` rows are counted beside them (needs pandas)."""
    alone: Counter[str] = Counter()
    tied: Counter[str] = Counter()
    share: dict[str, float] = {}
    fired: Counter[str] = Counter()
    evaluated = no_option = tied_first = 0
    for result in evaluations:
        evaluated += 1
        first: Sequence[str] = [o.category for o in result.options if o.rank == 1]
        if not first:
            no_option += 1
        elif len(first) > 1:
            tied_first += 1
        for category in first:
            (alone if len(first) == 1 else tied)[category] += 1
            share[category] = share.get(category, 0.0) + 1 / len(first)
        fired.update(set(result.fired_rules))
    counts = FirstChoiceCounts(alone, tied, share, fired, evaluated, no_option, tied_first)
    return from_counts(counts, failed, rows=rows)


@dataclass(frozen=True)
class FirstChoiceCounts:
    """What a summary is made of, counted over the evaluated patients."""

    alone: Counter[str]
    tied: Counter[str]
    share: dict[str, float]
    fired: Counter[str]
    evaluated: int
    no_option: int
    tied_first: int


def from_counts(
    counts: FirstChoiceCounts, failed: int, *, rows: int | None = None
) -> CohortSummary:
    """A summary from counts (the columnar cohort engine counts without building results)."""
    pandas = pandas_module()
    alone, tied, share, fired = counts.alone, counts.tied, counts.share, counts.fired
    evaluated, no_option, tied_first = counts.evaluated, counts.no_option, counts.tied_first
    categories = [c for c in CATEGORY_ORDER if alone[c] or tied[c]]
    first_choice = pandas.DataFrame(
        {
            "patients": [alone[c] + tied[c] for c in categories],
            "alone": [alone[c] for c in categories],
            "tied": [tied[c] for c in categories],
            "share": [share[c] for c in categories],
            "percent": [100 * share[c] / evaluated if evaluated else 0.0 for c in categories],
        },
        index=pandas.Index(categories, name="category"),
    ).sort_values(["share", "patients"], ascending=False, kind="stable")
    rule_fired = pandas.DataFrame(
        {
            "patients": [n for _, n in fired.most_common()],
            "percent": [100 * n / evaluated for _, n in fired.most_common()],
        },
        index=pandas.Index([r for r, _ in fired.most_common()], name="rule_id"),
    )
    given = rows if rows is not None else evaluated + failed
    totals = pandas.DataFrame(
        {
            "patients": [given, evaluated, failed, no_option, tied_first],
        },
        index=pandas.Index(
            ["rows", "evaluated", "failed", "no option", "tied first place"], name="count"
        ),
    )
    return CohortSummary(
        rows=given,
        patients=evaluated,
        failed=failed,
        totals=totals,
        first_choice=first_choice,
        rule_fired=rule_fired,
    )
