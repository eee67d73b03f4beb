"""The impact of a rule change on a cohort: whose answers change, how, and which rules did it.

:func:`diff` evaluates a cohort with two rulebases (an old and a new version of the rules, or
the bundled rules and the same with a local layer) and compares, patient by patient, what the
public tables and results say: options added or removed, options that move among the options
present in both (an option whose number changes only because another one appeared or left has
not moved), drugs added to or removed from an option, tier and sources changed, and
not-recommended items added or removed. Each change names the rules responsible (the rules
that differ between the two rulebases and fired for the patient in either, those about the
changed category first) and the statements they cite. Every row carries both rulebases'
versions and content hashes, so a report cannot be read against the wrong rules.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mbc_rules.cohort.concordance import (
    CHUNK_ROWS,
    _markdown_table,
    chunks,
    evaluate_chunk,
    profile_columns,
)
from mbc_rules.errors import MbcRulesError
from mbc_rules.extras import pandas_module
from mbc_rules.result import NotRecommendedItem
from mbc_rules.rulebase import Rulebase
from mbc_rules.schema import Rule

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mbc_rules.cohort.tracing import RowTrace

DIFF_KINDS = (
    "option_added",
    "option_removed",
    "rank_moved",
    "drugs_added",
    "drugs_removed",
    "tier_changed",
    "sources_changed",
    "not_recommended_added",
    "not_recommended_removed",
    "validity_changed",
)
CHANGE_COLUMNS = (
    "patient_id",
    "kind",
    "category",
    "old",
    "new",
    "rules",
    "statements",
    "old_version",
    "old_hash",
    "new_version",
    "new_hash",
)
RULE_COLUMNS = (
    "rule_id",
    "change",
    "parts",
    "statements",
    "patients_changed",
    "fires_old",
    "fires_new",
    "old_version",
    "old_hash",
    "new_version",
    "new_hash",
)


def _comparable(rule: Rule) -> dict[str, Any]:
    # Examples check a rule; they never shape an answer.
    return rule.model_dump(mode="json", exclude={"examples"})


def rule_changes(old: Rulebase, new: Rulebase) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each rule that differs: ``added``, ``removed`` or ``changed`` and the parts changed
    (``when``, ``then``, ``citations``, ``title``, ...).
    """
    before = {rule.id: rule for rule in old.rules}
    after = {rule.id: rule for rule in new.rules}
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for rule_id in sorted(before.keys() | after.keys()):
        if rule_id not in after:
            out[rule_id] = ("removed", ())
        elif rule_id not in before:
            out[rule_id] = ("added", ())
        else:
            a, b = _comparable(before[rule_id]), _comparable(after[rule_id])
            parts = tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))
            if parts:
                out[rule_id] = ("changed", parts)
    return out


def _about(rule: Rule, category: str | None, rulebase: Rulebase) -> bool:
    """Whether a rule speaks of ``category`` (offers it, or advises against it or its drugs)."""
    if category is None:
        return True
    offer = rule.then.offer
    if offer is not None:
        return bool(offer.category == category)
    statement = rule.then.not_recommended
    if statement is not None:
        if statement.category is not None:
            return bool(statement.category == category)
        vocabulary = rulebase.vocabulary
        return any(a in vocabulary and vocabulary[a].category == category for a in statement.agents)
    return False


@dataclass
class RuleDiff:
    """What changes between two rulebases on a cohort.

    ``changes``: one row per patient and change (columns :data:`CHANGE_COLUMNS`, indexed by
    the caller's index of the patient's row): its ``kind`` (:data:`DIFF_KINDS`), the
    ``category``, what it was (``old``) and is (``new``) in words, the ``rules`` responsible
    and the ``statements`` they cite, and both rulebases' versions and hashes. ``rules``: each
    rule that differs (columns :data:`RULE_COLUMNS`), how, and for how many patients it fires
    and changes the answer.
    """

    changes: pd.DataFrame
    rules: pd.DataFrame
    patients: int
    old_version: str
    old_hash: str
    new_version: str
    new_hash: str

    def changed_patients(self) -> pd.DataFrame:
        """One row per patient whose answer changes: ``patient_id`` and the kinds of change."""
        pandas = pandas_module()
        if not len(self.changes):
            return cast("pd.DataFrame", pandas.DataFrame(columns=["patient_id", "kinds"]))
        grouped = self.changes.groupby("patient_id", sort=False)["kind"]
        kinds = grouped.agg(lambda k: ", ".join(dict.fromkeys(k)))
        out: pd.DataFrame = kinds.rename("kinds").reset_index()
        return out

    def by_kind(self) -> pd.DataFrame:
        """For each kind of change: how many patients and how many changes, and the rules."""
        pandas = pandas_module()
        rows = []
        for kind in DIFF_KINDS:
            part = self.changes[self.changes["kind"] == kind]
            if not len(part):
                continue
            rules = sorted({r for rs in part["rules"] for r in rs})
            categories = sorted({str(c) for c in part["category"] if c})
            rows.append(
                {
                    "kind": kind,
                    "patients": part["patient_id"].nunique(),
                    "changes": len(part),
                    "categories": tuple(categories),
                    "rules": tuple(rules),
                }
            )
        columns = ["kind", "patients", "changes", "categories", "rules"]
        return cast("pd.DataFrame", pandas.DataFrame(rows, columns=columns))

    def markdown(self, limit: int = 20) -> str:
        """A report for a guideline committee: the rules that differ, then the changes by kind
        with the first ``limit`` patients of each.
        """
        changed = self.changes["patient_id"].nunique() if len(self.changes) else 0
        lines = [
            "# Impact of a rule change",
            "",
            f"Old rules: version {self.old_version}, hash `{self.old_hash}`.  ",
            f"New rules: version {self.new_version}, hash `{self.new_hash}`.",
            "",
            f"{changed} of {self.patients} patients get another answer.",
            "",
            "## Rules that differ",
            "",
            _markdown_table(
                self.rules.drop(columns=["old_version", "old_hash", "new_version", "new_hash"])
            )
            if len(self.rules)
            else "None: the rules are the same (the vocabulary, sources or orderings may differ).",
            "",
            "## Changes by kind",
            "",
            _markdown_table(self.by_kind()) if len(self.changes) else "No answer changes.",
        ]
        for kind in DIFF_KINDS:
            part = self.changes[self.changes["kind"] == kind]
            if not len(part):
                continue
            lines += ["", f"### {kind.replace('_', ' ')} ({len(part)})", ""]
            shown = part.head(limit)[["patient_id", "category", "old", "new", "rules"]]
            lines.append(_markdown_table(shown))
            if len(part) > limit:
                lines.append(f"\n... and {len(part) - limit} more (see the CSV).")
        return "\n".join(lines) + "\n"


def _as_rulebase(value: Rulebase | str | os.PathLike[str]) -> Rulebase:
    if isinstance(value, Rulebase):
        return value
    return Rulebase.load(Path(value))


def diff(
    old: Rulebase | str | os.PathLike[str],
    new: Rulebase | str | os.PathLike[str],
    cohort: Any,
    *,
    verify: int = 200,
    chunk_rows: int = CHUNK_ROWS,
) -> RuleDiff:
    """Compare the answers of two rulebases on every patient of a cohort.

    Args:
        old: the rulebase (or rule directory) before the change.
        new: the rulebase (or rule directory) after it.
        cohort: a pandas DataFrame, an Arrow table or a Parquet path of profiles.
        verify: rows re-evaluated in full to check the cohort path, per rulebase; 0: none.
        chunk_rows: how many rows are compared at a time (memory, not the answer).

    Returns:
        A :class:`RuleDiff`: ``changes``, ``rules``, ``by_kind()``, ``changed_patients()``,
        ``markdown()``.
    """
    from mbc_rules.cohort.frame_input import as_frame

    pandas = pandas_module()
    before, after = _as_rulebase(old), _as_rulebase(new)
    frame = as_frame(cohort)
    names = profile_columns(frame)
    if not names:
        raise MbcRulesError("the cohort has no profile-field columns")
    changed_rules = rule_changes(before, after)
    bounds = chunks(frame, max(1, int(chunk_rows)))
    share = -(-max(verify, 0) // len(bounds))
    identity = {
        "old_version": before.version,
        "old_hash": before.content_hash,
        "new_version": after.version,
        "new_hash": after.content_hash,
    }
    parts = []
    fires = {rule_id: [0, 0] for rule_id in changed_rules}
    for a, b in bounds:
        part = _chunk(frame.iloc[a:b], names, before, after, changed_rules, share, fires)
        part.index = frame.index[a + part.index.to_numpy()]
        parts.append(part)
    changes = pandas.concat(parts) if parts else pandas.DataFrame(columns=list(CHANGE_COLUMNS))
    for key, value in identity.items():
        changes[key] = value
    changes = changes.reindex(columns=list(CHANGE_COLUMNS))
    responsible: dict[str, set[Any]] = {rule_id: set() for rule_id in changed_rules}
    for pid, rules in zip(changes["patient_id"], changes["rules"], strict=True):
        for rule_id in rules:
            responsible.setdefault(rule_id, set()).add(pid)
    rule_rows = []
    for rule_id, (change, changed_parts) in changed_rules.items():
        cited: list[str] = []
        for rulebase in (before, after):
            rule = rulebase.rules_by_id.get(rule_id)
            if rule is not None:
                cited += [c.statement for c in rule.citations if c.statement not in cited]
        rule_rows.append(
            {
                "rule_id": rule_id,
                "change": change,
                "parts": changed_parts,
                "statements": tuple(cited),
                "patients_changed": len(responsible.get(rule_id, ())),
                "fires_old": fires[rule_id][0],
                "fires_new": fires[rule_id][1],
                **identity,
            }
        )
    rules = pandas.DataFrame(rule_rows, columns=list(RULE_COLUMNS))
    return RuleDiff(
        changes,
        rules,
        len(frame),
        before.version,
        before.content_hash,
        after.version,
        after.content_hash,
    )


def _describe(rank: Any, tier: Any, agents: Any) -> str:
    named = ", ".join(agents) if agents else "no drug named"
    return f"rank {int(rank)}, {tier}: {named}"


def _item_text(item: NotRecommendedItem) -> str:
    what = item.category if item.category is not None else ", ".join(item.agents)
    if item.kind == "not_available_here":
        return f"not available here: {what}: {item.reason}"
    return f"{what}: {item.reason}"


def _chunk(
    frame: pd.DataFrame,
    names: Sequence[str],
    old: Rulebase,
    new: Rulebase,
    changed_rules: dict[str, tuple[str, tuple[str, ...]]],
    verify: int,
    fires: dict[str, list[int]],
) -> pd.DataFrame:
    """The changes of one chunk, indexed by row position within it."""
    import numpy as np

    from mbc_rules.cohort.tracing import trace

    pandas = pandas_module()
    frame = frame[list(names)].reset_index(drop=True)
    count = len(frame)
    out_old, failed_old = evaluate_chunk(frame, names, old, verify)
    out_new, failed_new = evaluate_chunk(frame, names, new, verify)
    trace_old = trace(frame, names, old, failed_old)
    trace_new = trace(frame, names, new, failed_new)
    ids = out_new.wide["patient_id"].to_numpy(dtype=object)

    for index, trace_of in enumerate((trace_old, trace_new)):
        counts = np.bincount(
            trace_of.fired[trace_of.fired >= 0], minlength=len(trace_of.fired_sets)
        )
        for code, rules in enumerate(trace_of.fired_sets):
            for rule_id in rules & fires.keys():
                fires[rule_id][index] += int(counts[code])
        for position in trace_of.own:
            for rule_id in trace_of.fired_rules(position) & fires.keys():
                fires[rule_id][index] += 1

    rows: list[tuple[int, str, str | None, str, str]] = []  # position, kind, category, old, new

    def table(out: Any) -> pd.DataFrame:
        long = out.long
        return cast(
            "pd.DataFrame",
            pandas.DataFrame(
                {
                    "position": long.index.to_numpy(dtype=np.int64),
                    "category": long["category"].astype(object).to_numpy(dtype=object),
                    "rank": long["rank"].to_numpy(dtype=np.int64),
                    "tier": long["tier"].to_numpy(dtype=object),
                    "agents": long["agents"].to_numpy(dtype=object),
                    "source_ids": long["source_ids"].to_numpy(dtype=object),
                }
            ),
        )

    both_valid = ~failed_old & ~failed_new
    touched = _touched(trace_old, trace_new, changed_rules, old, new) & both_valid
    _check_untouched(trace_old, trace_new, both_valid & ~touched, old, new, verify)
    merged = table(out_old).merge(
        table(out_new), on=["position", "category"], how="outer", suffixes=("_old", "_new")
    )
    merged = merged[touched[merged["position"].to_numpy(dtype=np.int64)]]
    present_old = merged["rank_old"].notna().to_numpy()
    present_new = merged["rank_new"].notna().to_numpy()
    for record in merged[present_old & ~present_new].to_dict("records"):
        rows.append(
            (
                int(record["position"]),
                "option_removed",
                record["category"],
                _describe(record["rank_old"], record["tier_old"], record["agents_old"]),
                "",
            )
        )
    for record in merged[present_new & ~present_old].to_dict("records"):
        rows.append(
            (
                int(record["position"]),
                "option_added",
                record["category"],
                "",
                _describe(record["rank_new"], record["tier_new"], record["agents_new"]),
            )
        )
    # Moves: among the options present in both, each option's dense rank before and after.
    common = merged[present_old & present_new].copy()
    if len(common):
        grouped = common.groupby("position")
        moved = (
            grouped["rank_old"].rank(method="dense").to_numpy()
            != grouped["rank_new"].rank(method="dense").to_numpy()
        )
        differs = moved.copy()
        for column in ("tier", "agents", "source_ids"):
            pairs = zip(
                common[f"{column}_old"].tolist(), common[f"{column}_new"].tolist(), strict=True
            )
            differs |= np.fromiter((a != b for a, b in pairs), dtype=bool, count=len(common))
        common["moved"] = moved
        for record in common[differs].to_dict("records"):
            position, category = int(record["position"]), record["category"]
            if record["moved"]:
                rows.append(
                    (
                        position,
                        "rank_moved",
                        category,
                        f"rank {int(record['rank_old'])}",
                        f"rank {int(record['rank_new'])}",
                    )
                )
            before, after = tuple(record["agents_old"]), tuple(record["agents_new"])
            if before != after:
                added = [a for a in after if a not in before]
                removed = [a for a in before if a not in after]
                if added:
                    rows.append((position, "drugs_added", category, "", ", ".join(added)))
                if removed:
                    rows.append((position, "drugs_removed", category, ", ".join(removed), ""))
            if record["tier_old"] != record["tier_new"]:
                rows.append(
                    (position, "tier_changed", category, record["tier_old"], record["tier_new"])
                )
            if tuple(record["source_ids_old"]) != tuple(record["source_ids_new"]):
                rows.append(
                    (
                        position,
                        "sources_changed",
                        category,
                        ", ".join(record["source_ids_old"]),
                        ", ".join(record["source_ids_new"]),
                    )
                )

    # Not recommended: compared once per distinct pair of keys.
    compared: dict[tuple[Any, ...], list[tuple[str, str | None, str, str]]] = {}
    for position in np.flatnonzero(touched).tolist():
        key = (trace_old.key(position), trace_new.key(position))
        found = compared.get(key)
        if found is None:
            found = compared[key] = _said_changes(
                trace_old.not_recommended(position), trace_new.not_recommended(position), new
            )
        rows.extend((position, *change) for change in found)
    trace_old.check(verify)
    trace_new.check(verify)
    for position in np.flatnonzero(failed_old != failed_new).tolist():
        rows.append(
            (
                position,
                "validity_changed",
                None,
                "invalid" if failed_old[position] else "valid",
                "invalid" if failed_new[position] else "valid",
            )
        )

    rows.sort(key=lambda r: (r[0], DIFF_KINDS.index(r[1]), r[2] or ""))
    memo: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    rule_column: list[tuple[str, ...]] = []
    statement_column: list[tuple[str, ...]] = []
    for position, kind, category, _, _ in rows:
        key2 = (int(trace_old.fired[position]), int(trace_new.fired[position]), kind, category)
        found2 = memo.get(key2) if key2[0] >= 0 and key2[1] >= 0 else None
        if found2 is None:
            found2 = _responsible(
                trace_old, trace_new, position, kind, category, changed_rules, old, new
            )
            memo[key2] = found2
        rule_column.append(found2[0])
        statement_column.append(found2[1])
    positions = np.array([r[0] for r in rows], dtype=np.int64)
    result = pandas.DataFrame(
        {
            "patient_id": ids[positions] if len(rows) else [],
            "kind": [r[1] for r in rows],
            "category": [r[2] for r in rows],
            "old": [r[3] for r in rows],
            "new": [r[4] for r in rows],
            "rules": rule_column,
            "statements": statement_column,
        },
        index=positions,
    )
    del count
    return cast("pd.DataFrame", result)


def same_context(old: Rulebase, new: Rulebase) -> bool:
    """Whether everything but the rules that shapes an answer is the same in both rulebases:
    the vocabulary, the sources, the statements and the order of the rules they share.

    Then a patient for whom the same rules fire, none of them changed, gets the same answer
    from both, and need not be compared.
    """
    common = {r.id for r in old.rules} & {r.id for r in new.rules}
    return (
        dict(old.vocabulary.agents) == dict(new.vocabulary.agents)
        and old.sources == new.sources
        and old.coverage == new.coverage
        and [r.id for r in old.rules if r.id in common]
        == [r.id for r in new.rules if r.id in common]
    )


def _touched(
    trace_old: RowTrace,
    trace_new: RowTrace,
    changed_rules: dict[str, tuple[str, tuple[str, ...]]],
    old: Rulebase,
    new: Rulebase,
) -> np.ndarray:
    """Which rows may get another answer: all, unless only rules changed; then the rows for
    which another set of rules fires, or a changed rule fires.
    """
    import numpy as np

    count = len(trace_old.fired)
    if not same_context(old, new):
        return np.ones(count, dtype=bool)
    changed = frozenset(changed_rules)
    memo: dict[tuple[int, int], bool] = {}
    out = np.ones(count, dtype=bool)
    for position, pair in enumerate(
        zip(trace_old.fired.tolist(), trace_new.fired.tolist(), strict=True)
    ):
        if pair[0] < 0 or pair[1] < 0:
            continue  # read on its own, or failed: compared
        found = memo.get(pair)
        if found is None:
            before, after = trace_old.fired_sets[pair[0]], trace_new.fired_sets[pair[1]]
            found = memo[pair] = before != after or bool((before | after) & changed)
        out[position] = found
    return out


def _check_untouched(
    trace_old: RowTrace,
    trace_new: RowTrace,
    untouched: np.ndarray,
    old: Rulebase,
    new: Rulebase,
    verify: int,
) -> None:
    """Evaluate ``verify`` sampled rows that were not compared with both rulebases in full.

    Raises:
        VerificationError: such a row's answers differ (a bug: please report it).
    """
    import random

    import numpy as np

    from mbc_rules.cohort.tracing import _fast
    from mbc_rules.cohort.verify import VerificationError

    candidates = np.flatnonzero(untouched).tolist()
    for position in random.Random(2).sample(candidates, min(max(verify, 0), len(candidates))):
        mapping = trace_old.reader(position)
        a, b = _fast(old).evaluate(mapping), _fast(new).evaluate(mapping)
        if (a.options, a.not_recommended) != (b.options, b.not_recommended):
            raise VerificationError(
                f"row at position {position}: the same unchanged rules fire under both "
                "rulebases, yet the answers differ (a bug: please report it)"
            )


def _said_changes(
    before: tuple[NotRecommendedItem, ...], after: tuple[NotRecommendedItem, ...], new: Rulebase
) -> list[tuple[str, str | None, str, str]]:
    old_texts = {_item_text(i): i for i in before}
    new_texts = {_item_text(i): i for i in after}
    out: list[tuple[str, str | None, str, str]] = []
    for text, item in old_texts.items():
        if text not in new_texts:
            out.append(("not_recommended_removed", _item_category(item, new), text, ""))
    for text, item in new_texts.items():
        if text not in old_texts:
            out.append(("not_recommended_added", _item_category(item, new), "", text))
    return out


def _item_category(item: NotRecommendedItem, rulebase: Rulebase) -> str | None:
    if item.category is not None:
        return str(item.category)
    vocabulary = rulebase.vocabulary
    categories = {vocabulary[a].category for a in item.agents if a in vocabulary}
    return str(next(iter(categories))) if len(categories) == 1 else None


def _responsible(
    trace_old: RowTrace,
    trace_new: RowTrace,
    position: int,
    kind: str,
    category: str | None,
    changed_rules: dict[str, tuple[str, tuple[str, ...]]],
    old: Rulebase,
    new: Rulebase,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The changed rules that fired for the patient in either rulebase, those about the
    changed category first (if any are), and the statements they cite.
    """
    fired = trace_old.fired_rules(position) | trace_new.fired_rules(position)
    candidates = sorted(fired & changed_rules.keys())

    def rule(rule_id: str) -> tuple[Rulebase, Rule]:
        for rulebase in (new, old):
            found = rulebase.rules_by_id.get(rule_id)
            if found is not None:
                return rulebase, found
        raise KeyError(rule_id)  # pragma: no cover - candidates come from the rulebases

    about = [r for r in candidates if _about(rule(r)[1], category, rule(r)[0])]
    chosen = about or candidates
    statements: list[str] = []
    for rule_id in chosen:
        for citation in rule(rule_id)[1].citations:
            if citation.statement not in statements:
                statements.append(citation.statement)
    del kind
    return tuple(chosen), tuple(statements)
