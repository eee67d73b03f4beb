"""Stage 6, rank: a pure function from fired rules (and the history) to ranked, cited options.

Order never depends on the order in which the engine fired rules. The keys, in order
(``docs/ranking.md`` explains each, with the sentence behind it):

1. supportive care (palliative care, complementary therapy) goes alongside treatment: it is
   always listed after every anticancer option, never above one;
2. systemic drugs before local and other treatment (ACS: "systemic drugs are the main
   treatment for stage IV breast cancer");
3. the sources' own orderings among systemic drugs (``ORDERINGS``): chemotherapy first for
   serious problems from the spread; anti-HER2 treatment leads for HER2-positive disease;
   hormone therapy, then its targeted combinations, before chemotherapy while a hormone option
   is left for hormone receptor positive disease;
4. tier: ``preferred`` before ``option`` before ``situational`` (the best tier any rule gives);
5. how many independent sources support the category (more first);
6. ``CATEGORY_ORDER``, which only orders the listing: options equal on 1-5 share a rank.

Before anything is ranked, not-recommended statements remove what they name, and so does the
history: nothing the cancer grew on is offered again, alone or in a regimen, unless a cited
sentence continues it (``Regimen.continues``).

The steps, each a module of this package, importing only from those listed before it:

* :mod:`~mbc_rules.rank.standing`: what the orderings read of the patient (:class:`Standing`)
  and the rules that wait only on the history (:func:`waiting_rules`);
* :mod:`~mbc_rules.rank.citations`: the sentences behind the orderings and the result's form
  of a citation;
* :mod:`~mbc_rules.rank.contributions`: what each fired rule still names (pure);
* :mod:`~mbc_rules.rank.arrange`: the ranks across categories, each the dense rank of an
  :class:`OrderKey` (pure);
* :mod:`~mbc_rules.rank.present`: each option's citations, agreement and notes, and the
  not-recommended items;
* :mod:`~mbc_rules.rank.reference`: :func:`rank`, the steps unmemoised (the oracle), and
  :func:`order_keys`;
* :mod:`~mbc_rules.rank.memo`: :class:`Ranker`, the same steps, each one's answers remembered.
"""

from __future__ import annotations

from mbc_rules.rank.arrange import (
    SUPPORTIVE,
    Arrangement,
    CategoryParts,
    OrderField,
    OrderKey,
    Placed,
    arrange,
    by_category,
    linked_categories,
    order_key,
)
from mbc_rules.rank.citations import (
    ORDERING_STATEMENTS,
    Sentences,
    citation_groups,
    cite,
    ordering_sentences,
    speaking_of,
)
from mbc_rules.rank.contributions import (
    CLASS,
    GROWN,
    Contribution,
    contributions,
    hormone_failed,
    regimen_name,
    removals,
)
from mbc_rules.rank.memo import Ranker
from mbc_rules.rank.present import Answer
from mbc_rules.rank.reference import order_keys, rank
from mbc_rules.rank.standing import (
    NO_STANDING,
    Standing,
    holds_but_for_timing,
    timing_tests,
    waiting_rules,
)

__all__ = [
    "CLASS",
    "GROWN",
    "NO_STANDING",
    "ORDERING_STATEMENTS",
    "SUPPORTIVE",
    "Answer",
    "Arrangement",
    "CategoryParts",
    "Contribution",
    "OrderField",
    "OrderKey",
    "Placed",
    "Ranker",
    "Sentences",
    "Standing",
    "arrange",
    "by_category",
    "citation_groups",
    "cite",
    "contributions",
    "holds_but_for_timing",
    "hormone_failed",
    "linked_categories",
    "order_key",
    "order_keys",
    "ordering_sentences",
    "rank",
    "regimen_name",
    "removals",
    "speaking_of",
    "timing_tests",
    "waiting_rules",
]
