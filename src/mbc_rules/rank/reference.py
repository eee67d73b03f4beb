"""The unmemoised ranking: :func:`rank` takes the steps one after another, remembering
nothing; it is the oracle the memoised :class:`~mbc_rules.rank.memo.Ranker` is tested
against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mbc_rules.facts import NO_HISTORY, TreatmentHistory
from mbc_rules.rank.arrange import OrderKey, arrange
from mbc_rules.rank.citations import Sentences
from mbc_rules.rank.contributions import class_tables, contributions, hormone_failed, removals
from mbc_rules.rank.present import (
    Answer,
    given_before_of,
    grown_and_held_items,
    option_of,
    statement_items,
)
from mbc_rules.rank.standing import NO_STANDING, Standing
from mbc_rules.schema import Rule, Source
from mbc_rules.vocabulary import Vocabulary


def rank(
    fired: Sequence[Rule],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    *,
    history: TreatmentHistory = NO_HISTORY,
    standing: Standing = NO_STANDING,
    waiting: Sequence[Rule] = (),
    sentences: Sentences | None = None,
) -> Answer:
    """Turn the rules that fired into ranked options, not-recommended items and advice.

    ``history`` says what the cancer grew on (never offered again) and what else was given;
    ``standing`` what the sources' orderings need; ``waiting`` the offering rules that did not
    fire only because of a condition on the history (see
    :func:`~mbc_rules.rank.standing.waiting_rules`); ``sentences`` the statements behind the
    orderings (:func:`~mbc_rules.rank.citations.ordering_sentences`), cited in notes and in the
    not-recommended items of drugs the cancer grew on.

    Three steps: :func:`contributions` (per rule), :func:`arrange` (across categories, the
    ranks) and the citations, notes and agreement of each option.
    :class:`~mbc_rules.rank.memo.Ranker` takes the same steps and remembers each one's answers.
    The output models are built without re-validation (``model_construct``): every value comes
    from validated rules.
    """
    sentences = sentences or {}
    statements = [statement_items(rule, sources) for rule in fired]
    tables = class_tables(vocabulary)
    parts = contributions(fired, vocabulary, history.failed, removals(fired))
    arrangement = arrange(
        parts,
        vocabulary,
        standing=standing,
        hormone_failed=hormone_failed(history.failed, vocabulary),
    )
    options = tuple(
        option_of(
            placed,
            arrangement,
            standing=standing,
            given_before=given_before_of(placed.named, history),
            waiting=waiting,
            tables=tables,
            sources=sources,
            sentences=sentences,
        )
        for placed in arrangement.options
    )
    grown = grown_and_held_items(history, arrangement, parts, vocabulary, sources, sentences)
    return (
        options,
        (*grown, *(item for item, _ in statements if item is not None)),
        tuple(advice for _, advice in statements if advice is not None),
    )


def order_keys(
    fired: Sequence[Rule],
    vocabulary: Vocabulary,
    *,
    history: TreatmentHistory = NO_HISTORY,
    standing: Standing = NO_STANDING,
) -> dict[str, OrderKey]:
    """The :class:`OrderKey` of each category :func:`rank` offers for the same arguments,
    by category: the steps of :func:`rank` up to the arrangement, whose keys the ranks are
    the dense ranks of. Explanations read from them why one option comes before another.
    """
    parts = contributions(fired, vocabulary, history.failed, removals(fired))
    arrangement = arrange(
        parts,
        vocabulary,
        standing=standing,
        hormone_failed=hormone_failed(history.failed, vocabulary),
    )
    return {placed.category: placed.key for placed in arrangement.options}
