"""Guideline concordance over a cohort: was the treatment each patient received next offered?

For each row of a cohort that records the treatment given next (a column of drug names, read
as profiles read them: generic, brand or alias, in any case, several drugs of one regimen
together), :func:`concordance` says whether it was offered (at which rank, category and tier,
with the supporting sources), not recommended (the cancer grew on it before, or a source
advises against it, with the reason the answer gives), or something the sources do not speak
of for this patient; and it summarises the shares a paper reports, by subgroup.

Everything is read from the cohort answer's public tables
(:func:`~mbc_rules.cohort.frames.evaluate_frame`) and from results' public fields: the offered
options from ``long``, the not-recommended items from evaluations (one per distinct key, see
:mod:`mbc_rules.cohort.tracing`). The cohort is taken in chunks, so memory stays bounded.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mbc_rules.cohort.reading import FIELDS, ID_FIELD, is_missing, plain
from mbc_rules.errors import MbcRulesError
from mbc_rules.extras import optional, pandas_module
from mbc_rules.result import NotRecommendedItem
from mbc_rules.rulebase import Rulebase
from mbc_rules.vocabulary import CATEGORIES, Agent, Vocabulary

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

VERDICTS = ("offered", "not_recommended", "not_covered", "not_evaluated")
CONCORDANCE_COLUMNS = (
    "patient_id",
    "given",
    "given_agents",
    "verdict",
    "concordant",
    "rank",
    "category",
    "tier",
    "source_ids",
    "match",
    "reason_kind",
    "reason",
    "not_offered",
    "receptor_type",
    "line",
    "sites",
)
SUMMARY_COLUMNS = (
    "subgroup",
    "group",
    "patients",
    "judged",
    "offered",
    "offered_rank_1",
    "offered_lower",
    "not_recommended",
    "grew_on_before",
    "advised_against",
    "not_available_here",
    "not_covered",
    "not_evaluated",
    "share_concordant",
)
SUBGROUPS = ("receptor_type", "line", "site")
CHUNK_ROWS = 131_072

# Drugs of one regimen written in one cell: "Ibrance + Femara", "letrozole; palbociclib",
# "palbociclib with letrozole". A name containing one of these words is tried whole first
# ("high-dose chemotherapy with stem cell transplant"); "/" splits only a part that is not a
# name itself ("CDK4/6 inhibitor" stays whole).
_SEPARATORS = re.compile(r"\s*(?:\+|;|,|&|\bplus\b|\bwith\b|\band\b)\s*", re.IGNORECASE)


def read_given(cell: Any, vocabulary: Vocabulary) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The vocabulary ids of the drugs a cell names, and the names it could not read.

    A cell is empty (nothing given is recorded), a name, several names in one text
    (``"Ibrance + Femara"``), or a list of names. Names are read as profiles read them.
    """
    if is_missing(cell):
        return (), ()
    value = plain(cell)
    names: list[str] = []
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, list | tuple | set | frozenset):
        names = [str(v) for v in value if not is_missing(v)]
    else:
        names = [str(value)]
    ids: list[str] = []
    unknown: list[str] = []
    for name in names:
        for agent, missing in _read_name(name.strip(), vocabulary):
            if agent is not None and agent.id not in ids:
                ids.append(agent.id)
            if missing:
                unknown.append(missing)
    return tuple(sorted(ids)), tuple(unknown)


def _read_name(name: str, vocabulary: Vocabulary) -> list[tuple[Agent | None, str]]:
    if not name:
        return []
    whole = vocabulary.known(name)
    if whole is not None:
        return [(whole, "")]
    parts = [p for p in _SEPARATORS.split(name) if p.strip()]
    if len(parts) == 1 and "/" not in name:
        return [(None, name)]
    out: list[tuple[Agent | None, str]] = []
    for part in parts:
        found = vocabulary.known(part)
        if found is not None:
            out.append((found, ""))
            continue
        pieces = [p.strip() for p in part.split("/") if p.strip()]
        if len(pieces) > 1:
            for piece in pieces:
                agent = vocabulary.known(piece)
                out.append((agent, "" if agent is not None else piece))
        else:
            out.append((None, part))
    return out


def _members(agent: Agent, vocabulary: Vocabulary) -> frozenset[str]:
    """The drugs an agent stands for: itself, or the drugs of its class (of its category,
    for a class named as a whole category, like ``hormone_therapy``).
    """
    if agent.kind != "therapy_class":
        return frozenset({agent.id})
    whole = agent.id in CATEGORIES
    return frozenset(
        a.id
        for a in vocabulary.agents.values()
        if a.kind == "drug"
        and (a.category == agent.category if whole else a.drug_class == agent.drug_class)
    ) | {agent.id}


def _match(
    given: str, category: str, agents: tuple[str, ...], vocabulary: Vocabulary
) -> str | None:
    """How an offered option covers a given drug: ``agent``, ``class``, ``category`` or not."""
    if given in agents:
        return "agent"
    drug = vocabulary.agents.get(given)
    if drug is None:
        return None
    given_members = _members(drug, vocabulary)
    for named in agents:
        agent = vocabulary.agents.get(named)
        if agent is None:
            continue
        # A class offered covers its drugs; a class given is covered by a drug of it.
        if given in _members(agent, vocabulary) or named in given_members:
            return "class"
    if not agents and drug.category == category:
        return "category"  # the sources name the category here, and no drug of it
    return None


def _concerns(item: NotRecommendedItem, given: str, vocabulary: Vocabulary) -> bool:
    drug = vocabulary.agents.get(given)
    if drug is None:
        return False
    if item.category is not None:
        return drug.category == item.category
    for named in item.agents:
        agent = vocabulary.agents.get(named)
        if named == given or (agent is not None and given in _members(agent, vocabulary)):
            return True
    return False


@dataclass
class ConcordanceResult:
    """Each patient's verdict (``patients``), with the summary and its plot.

    ``patients`` has one row per input row, with the caller's index, in the columns
    :data:`CONCORDANCE_COLUMNS`: the treatment given as written and as vocabulary ids; the
    verdict (``offered``, ``not_recommended``, ``not_covered`` or ``not_evaluated``: no
    treatment recorded, a name not in the vocabulary, or a row that failed validation);
    ``concordant`` (missing where not evaluated); for an offered treatment, the best rank of
    the options that name one of its drugs, and that option's category, tier and sources, and
    ``match`` (``agent``, ``class``: through its class, ``category``: the sources offer the
    category without naming drugs); for the rest ``reason_kind`` (``grew_on_before``,
    ``advised_against``, ``not_available_here``: a local rule says so, ``not_covered``,
    ``not_evaluated``), the ``reason`` in words and the
    drugs ``not_offered``; and the subgroups ``receptor_type``, ``line`` (the line of metastatic
    treatment this one is: ``1``, ``2``, ``3+``) and ``sites``.
    """

    patients: pd.DataFrame
    rulebase_version: str
    rulebase_hash: str
    records: pd.DataFrame | None = None
    """For FHIR records: how the treatment given next was read from each (columns
    :data:`~mbc_rules.cohort.fhir_given.RECORD_COLUMNS`, indexed like ``patients``)."""

    def summary(self, by: Sequence[str] = SUBGROUPS) -> pd.DataFrame:
        """The counts and share concordant, over all patients and by each subgroup in ``by``.

        ``share_concordant`` is ``offered / judged``, where ``judged`` counts the patients with
        a verdict (not ``not_evaluated``). By ``site`` a patient counts once under each of its
        metastatic sites (``none given`` when it lists none), so the groups overlap.
        """
        pandas = pandas_module()
        patients = self.patients
        frames = [_counts(patients, "all", pandas.Series("all", index=patients.index))]
        for name in by:
            if name == "site":
                exploded = patients["sites"].map(lambda s: list(s) if s else ["none given"])
                exploded = exploded.explode()
                frames.append(_counts(patients.loc[exploded.index], "site", exploded))
            elif name in patients.columns:
                frames.append(_counts(patients, name, patients[name]))
            else:
                raise MbcRulesError(f"no subgroup {name!r}: one of {', '.join(SUBGROUPS)}")
        out = pandas.concat(frames, ignore_index=True)
        return cast("pd.DataFrame", out.reindex(columns=list(SUMMARY_COLUMNS)))

    def plot(self, by: str = "receptor_type", ax: Any = None) -> Any:
        """A bar chart of the share concordant by one subgroup (needs matplotlib).

        Returns:
            The matplotlib Axes.
        """
        plt = optional("matplotlib.pyplot", "plot")
        table = self.summary(by=(by,))
        table = table[table["subgroup"] == by]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        shares = table["share_concordant"].astype(float).fillna(0.0)
        ax.bar(table["group"].astype(str), shares)
        for x, (share, judged) in enumerate(zip(shares, table["judged"], strict=True)):
            ax.annotate(f"{share:.0%} of {judged}", (x, share), ha="center", va="bottom")
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("share concordant")
        ax.set_title(f"Treatment given next, offered by the rules, by {by.replace('_', ' ')}")
        return ax

    def markdown(self, by: Sequence[str] = SUBGROUPS, limit: int = 50) -> str:
        """The summary and the patients whose treatment was not offered, as Markdown."""
        summary = self.summary(by)
        lines = [
            "# Guideline concordance",
            "",
            f"Rules: version {self.rulebase_version}, hash `{self.rulebase_hash}`.",
            "",
            _markdown_table(summary),
            "",
        ]
        others = self.patients[self.patients["verdict"].isin(["not_recommended", "not_covered"])]
        lines.append(f"## Treatments not offered ({len(others)} patients)")
        lines.append("")
        shown = others.head(limit)
        lines.append(
            _markdown_table(
                shown[["patient_id", "given", "verdict", "reason_kind", "reason"]].assign(
                    reason=shown["reason"].map(lambda r: str(r).replace("|", "/"))
                )
            )
        )
        if len(others) > limit:
            lines.append(f"\n... and {len(others) - limit} more (see the CSV).")
        return "\n".join(lines) + "\n"


def _counts(patients: pd.DataFrame, subgroup: str, groups: pd.Series) -> pd.DataFrame:
    pandas = pandas_module()
    verdict = patients["verdict"]
    kind = patients["reason_kind"]
    rank = patients["rank"]
    table = pandas.DataFrame(
        {
            "group": groups.astype(str).to_numpy(),
            "patients": 1,
            "offered": (verdict == "offered").to_numpy(),
            "offered_rank_1": ((verdict == "offered") & (rank == 1)).fillna(False).to_numpy(),
            "offered_lower": ((verdict == "offered") & (rank > 1)).fillna(False).to_numpy(),
            "not_recommended": (verdict == "not_recommended").to_numpy(),
            "grew_on_before": (kind == "grew_on_before").to_numpy(),
            "advised_against": (kind == "advised_against").to_numpy(),
            "not_available_here": (kind == "not_available_here").to_numpy(),
            "not_covered": (verdict == "not_covered").to_numpy(),
            "not_evaluated": (verdict == "not_evaluated").to_numpy(),
        }
    )
    out = table.groupby("group", sort=True).sum().astype("int64").reset_index()
    out["judged"] = out["patients"] - out["not_evaluated"]
    judged = out["judged"].where(out["judged"] > 0)
    out["share_concordant"] = out["offered"] / judged
    out.insert(0, "subgroup", subgroup)
    return cast("pd.DataFrame", out)


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if value != value else f"{value:.3f}"
        if isinstance(value, tuple):
            return ", ".join(map(str, value))
        return str(value)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def profile_columns(frame: pd.DataFrame, given: str | None = None) -> list[str]:
    """The columns of ``frame`` that are profile fields (the given column excluded)."""
    return [str(c) for c in frame.columns if str(c) in FIELDS and str(c) != given]


def chunks(frame: pd.DataFrame, rows: int = CHUNK_ROWS) -> list[tuple[int, int]]:
    """The (start, stop) bounds of the chunks a cohort is taken in."""
    return [(b, min(b + rows, len(frame))) for b in range(0, len(frame), rows)] or [(0, 0)]


def evaluate_chunk(
    frame: pd.DataFrame, names: Sequence[str], rulebase: Rulebase, verify: int
) -> tuple[Any, np.ndarray]:
    """``evaluate_frame`` on one chunk indexed by position, and which of its rows failed."""
    import numpy as np

    from mbc_rules.cohort.frames import evaluate_frame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = evaluate_frame(frame, rulebase=rulebase, errors="collect", verify=verify)
    failed = np.zeros(len(frame), dtype=bool)
    if len(out.errors):
        failed[out.errors.index.to_numpy(dtype=np.int64)] = True
    return out, failed


def concordance(
    cohort: Any,
    given: str = "next_treatment",
    *,
    rulebase: Rulebase | None = None,
    verify: int = 200,
    chunk_rows: int = CHUNK_ROWS,
) -> ConcordanceResult:
    """For each patient, whether the treatment given next was what the rules offer.

    Args:
        cohort: a pandas DataFrame, an Arrow table or a Parquet path: profile fields as
            ``evaluate_frame`` reads them, and the column ``given``. Or FHIR R4 records: a
            Bundle (a dict), a ``.json`` path, a folder of them, or a list or mapping of
            these; each record's treatment given next is read from its medications
            (:mod:`mbc_rules.cohort.fhir_given` defines it) and ``records`` says how.
        given: the column of the treatment given next: a drug by any name, several drugs of
            one regimen in one cell (``"Ibrance + Femara"``) or a list of names.
        rulebase: defaults to the bundled one.
        verify: rows re-evaluated in full to check the cohort path (split over the chunks);
            0 turns it off.
        chunk_rows: how many rows are evaluated at a time (memory, not the answer).

    Returns:
        A :class:`ConcordanceResult`: ``patients``, ``summary()``, ``plot()``, ``markdown()``.

    Raises:
        MbcRulesError: the cohort has no column ``given``.
        VerificationError: the cohort path and a full evaluation disagree (a bug).
    """
    from mbc_rules.cohort.fhir_given import is_fhir_input
    from mbc_rules.cohort.frame_input import as_frame

    pandas = pandas_module()
    if is_fhir_input(cohort):
        return _concordance_fhir(cohort, rulebase or Rulebase.bundled(), verify, chunk_rows)
    frame = as_frame(cohort)
    if given not in [str(c) for c in frame.columns]:
        raise MbcRulesError(f"the cohort has no column {given!r} (the treatment given next)")
    rulebase = rulebase or Rulebase.bundled()
    names = profile_columns(frame, given)
    given_cells = frame[given].to_numpy(dtype=object)
    bounds = chunks(frame, max(1, int(chunk_rows)))
    share = -(-max(verify, 0) // len(bounds))
    parts = [_chunk(frame.iloc[a:b], given_cells[a:b], names, rulebase, share) for a, b in bounds]
    patients: pd.DataFrame = pandas.concat(parts)
    patients.index = frame.index
    return ConcordanceResult(patients, rulebase.version, rulebase.content_hash)


def _chunk(
    frame: pd.DataFrame,
    given_cells: np.ndarray,
    names: Sequence[str],
    rulebase: Rulebase,
    verify: int,
) -> pd.DataFrame:
    import numpy as np

    from mbc_rules.cohort.tracing import trace

    pandas = pandas_module()
    vocabulary = rulebase.vocabulary
    frame = (
        frame[names].reset_index(drop=True) if names else frame.iloc[:, :0].reset_index(drop=True)
    )
    count = len(frame)
    out, failed = evaluate_chunk(frame, names, rulebase, verify)
    long = out.long
    errors = out.errors
    rows = trace(frame, names, rulebase, failed)

    # What was given, read once per distinct cell.
    read: dict[Hashable, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    given_ids: list[tuple[str, ...]] = []
    unknown: list[tuple[str, ...]] = []
    for cell in given_cells.tolist():
        key = _key(cell)
        found = read.get(key)
        if found is None:
            found = read[key] = read_given(cell, vocabulary)
        given_ids.append(found[0])
        unknown.append(found[1])

    # Which given drugs each offered option covers (a bit per drug), once per distinct pair.
    positions = long.index.to_numpy(dtype=np.int64)
    categories = long["category"].astype(str).to_numpy(dtype=object)
    agents = long["agents"].to_numpy(dtype=object)
    ranks = long["rank"].to_numpy(dtype=np.int64)
    covered = np.zeros(len(long), dtype=np.int64)
    matches = np.empty(len(long), dtype=object)
    pairs: dict[tuple[Any, ...], tuple[int, str | None]] = {}
    for index, (position, category, named) in enumerate(
        zip(positions.tolist(), categories.tolist(), agents.tolist(), strict=True)
    ):
        drugs = given_ids[position]
        if not drugs:
            continue
        key = (drugs, category, named)
        found2 = pairs.get(key)
        if found2 is None:
            bits, how = 0, None
            for bit, drug in enumerate(drugs):
                kind = _match(drug, category, named, vocabulary)
                if kind is not None:
                    bits |= 1 << bit
                    how = how or kind
            found2 = pairs[key] = (bits, how)
        covered[index], matches[index] = found2
    union = np.zeros(count, dtype=np.int64)
    np.bitwise_or.at(union, positions, covered)
    # long is ordered by row and rank: the first covering option of a row is its best.
    hit = np.flatnonzero(covered > 0)
    _, first = np.unique(positions[hit], return_index=True)
    best = np.full(count, -1, dtype=np.int64)
    best[positions[hit][first]] = hit[first]

    error_text: dict[int, str] = {}
    for position, f, m in zip(
        errors.index.tolist(), errors["field"].tolist(), errors["message"].tolist(), strict=True
    ):
        error_text.setdefault(int(position), f"{f}: {m}")

    verdict = np.empty(count, dtype=object)
    reason_kind = np.empty(count, dtype=object)
    reason = np.empty(count, dtype=object)
    not_offered = np.empty(count, dtype=object)
    reason_kind[:] = ""
    reason[:] = ""
    empty: tuple[str, ...] = ()
    not_offered[:] = [empty] * count
    for position in range(count):
        drugs = given_ids[position]
        if failed[position]:
            verdict[position], reason_kind[position] = "not_evaluated", "not_evaluated"
            reason[position] = f"the profile is invalid: {error_text.get(position, '')}"
            continue
        if unknown[position]:
            verdict[position], reason_kind[position] = "not_evaluated", "not_evaluated"
            reason[position] = "not in the vocabulary: " + ", ".join(unknown[position])
            continue
        if not drugs:
            verdict[position], reason_kind[position] = "not_evaluated", "not_evaluated"
            reason[position] = "no treatment given is recorded"
            continue
        full = (1 << len(drugs)) - 1
        if int(union[position]) == full:
            verdict[position] = "offered"
            continue
        missing = tuple(d for bit, d in enumerate(drugs) if not int(union[position]) >> bit & 1)
        not_offered[position] = missing
        low, high = np.searchsorted(positions, [position, position + 1])
        offered_here = set(categories[low:high])
        items = rows.not_recommended(position, exact=False)
        kind, text = _why_not(missing, items, offered_here, vocabulary)
        if kind == "grew_on_before":
            # Its reason may name the regimens still offered that continue the drug: this
            # row's own, from the key that decides them.
            exact = rows.not_recommended(position, exact=True)
            kind, text = _why_not(missing, exact, offered_here, vocabulary)
        verdict[position] = "not_covered" if kind == "not_covered" else "not_recommended"
        reason_kind[position], reason[position] = kind, text
    rows.check(verify)

    offered = verdict == "offered"
    chosen = np.where(offered, best, -1)
    take = chosen >= 0

    def picked(values: np.ndarray, dtype: Any = object) -> np.ndarray:
        column = np.empty(count, dtype=object)
        column[:] = None
        column[take] = values[chosen[take]]
        return column

    rank_column = pandas.array(
        [int(r) if r is not None else None for r in picked(ranks)], dtype="Int64"
    )
    concordant = pandas.array(
        [None if v == "not_evaluated" else v == "offered" for v in verdict], dtype="boolean"
    )
    given_written = np.empty(count, dtype=object)
    given_written[:] = [None if is_missing(c) else plain(c) for c in given_cells.tolist()]
    given_tuple = np.empty(count, dtype=object)
    given_tuple[:] = given_ids
    patient_id = out.wide["patient_id"].to_numpy(dtype=object)
    if ID_FIELD not in names:
        patient_id = np.empty(count, dtype=object)
    columns = {
        "patient_id": patient_id,
        "given": given_written,
        "given_agents": given_tuple,
        "verdict": verdict,
        "concordant": concordant,
        "rank": rank_column,
        "category": picked(categories),
        "tier": picked(long["tier"].to_numpy(dtype=object)),
        "source_ids": picked(long["source_ids"].to_numpy(dtype=object)),
        "match": picked(matches),
        "reason_kind": reason_kind,
        "reason": reason,
        "not_offered": not_offered,
        "receptor_type": rows.receptor,
        "line": rows.line,
        "sites": rows.sites,
    }
    # Object columns throughout: pandas would infer text columns of one chunk as strings and
    # of another (all missing) as objects, and the chunks would not concatenate alike.
    return cast(
        "pd.DataFrame",
        pandas.DataFrame(
            {
                name: value
                if name in ("concordant", "rank")
                else pandas.Series(value, dtype=object)
                for name, value in columns.items()
            },
            columns=list(CONCORDANCE_COLUMNS),
        ),
    )


def _key(cell: Any) -> Hashable:
    value = plain(cell)
    if isinstance(value, list | tuple | set | frozenset):
        return ("list", tuple(str(v) for v in value))
    if is_missing(value):
        return None
    return ("cell", str(value))


def _why_not(
    missing: tuple[str, ...],
    items: tuple[NotRecommendedItem, ...],
    offered_categories: set[str],
    vocabulary: Vocabulary,
) -> tuple[str, str]:
    """The decisive reason a given drug was not offered: what the cancer grew on first (an
    item no rule states, built from the history), then a source's statement, else silence.
    """
    grown = [
        # The history's items name the drug itself: an item holding back a class or the
        # other drugs of a type the cancer grew on is not why the drug given is not offered.
        i
        for i in items
        if not i.rule_ids and any(d in i.agents for d in missing)
    ]
    if grown:
        return "grew_on_before", " ".join(i.reason for i in grown)
    stated = [i for i in items if i.rule_ids and any(_concerns(i, d, vocabulary) for d in missing)]
    # A source's advice is the guideline's reason; a local rule's "not available here" is
    # the institution's, said as its own kind.
    advised = [i for i in stated if i.kind != "not_available_here"]
    unavailable = [i for i in stated if i.kind == "not_available_here"]
    if advised:
        return "advised_against", " ".join(f"{i.reason} ({', '.join(i.rule_ids)})" for i in advised)
    if unavailable:
        return "not_available_here", " ".join(
            f"not available here: {i.reason} ({', '.join(i.rule_ids)})" for i in unavailable
        )
    words = []
    for drug in missing:
        agent = vocabulary.agents.get(drug)
        name = agent.name if agent is not None else drug
        category = agent.category if agent is not None else ""
        if category in offered_categories:
            words.append(
                f"the sources do not name {name} for this patient ({category} is offered with "
                "other drugs)"
            )
        else:
            words.append(f"the sources do not name {name} for this patient (no {category} option)")
    return "not_covered", "; ".join(words)


GIVEN_FROM_FHIR = "given_next"


def _concordance_fhir(
    cohort: object, rulebase: Rulebase, verify: int, chunk_rows: int
) -> ConcordanceResult:
    from mbc_rules.cohort.fhir_given import RECORD_COLUMNS, given_next

    pandas = pandas_module()
    found = given_next(cohort, rulebase.vocabulary)
    if not found:
        raise MbcRulesError("no FHIR records given")
    index = pandas.Index([g.source for g in found], name="source")
    frame = pandas.DataFrame([g.profile for g in found], index=index)
    cells = [" + ".join(g.given) if g.given else None for g in found]
    frame[GIVEN_FROM_FHIR] = pandas.Series(cells, index=index, dtype=object)
    result = concordance(
        frame, given=GIVEN_FROM_FHIR, rulebase=rulebase, verify=verify, chunk_rows=chunk_rows
    )
    patients = result.patients
    # A record with nothing to judge says why (not merely "no treatment given is recorded").
    silent = [not g.given for g in found]
    reasons = patients["reason"].to_numpy(dtype=object).copy()
    for position, (quiet, g) in enumerate(zip(silent, found, strict=True)):
        if quiet:
            reasons[position] = g.note
    patients["reason"] = pandas.Series(reasons, index=patients.index, dtype=object)
    patients["patient_id"] = pandas.Series(
        [g.patient_id for g in found], index=patients.index, dtype=object
    )
    records = pandas.DataFrame([g.row() for g in found], index=index, columns=list(RECORD_COLUMNS))
    return ConcordanceResult(patients, result.rulebase_version, result.rulebase_hash, records)
