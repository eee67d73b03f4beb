"""Guideline concordance over a cohort: every verdict, and the summary's shares by hand."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mbc_rules
from mbc_rules import MbcRulesError
from mbc_rules.cli import main
from mbc_rules.cohort.concordance import read_given

POST = {
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
}
TRIPLE = {"er_status": "negative", "pr_status": "negative", "her2_status": "negative"}
LETROZOLE_GREW = [{"agent": "Femara", "outcome": "progressed"}]

# One patient per verdict (and the ways to reach it). What each should be is read from the
# sources through the bundled rules by hand: postmenopausal HR+/HER2- cancers are offered
# hormone therapy first (letrozole among its drugs) and targeted therapy (palbociclib) second;
# chemotherapy is not offered to them without a reason; a triple negative cancer is offered
# chemotherapy first, naming no drug, and hormone therapy is "not helpful" for it.
ROWS: list[dict[str, Any]] = [
    {"patient_id": "rank1", **POST, "metastatic_sites": ["bone"], "next": "Femara"},
    {"patient_id": "lower", **POST, "metastatic_sites": ["bone"], "next": "palbociclib"},
    {
        "patient_id": "regimen",
        **POST,
        "metastatic_sites": ["bone", "liver"],
        "next": "Ibrance + Femara",
    },
    {
        "patient_id": "grew",
        **POST,
        "metastatic_sites": ["bone"],
        "prior_therapies": LETROZOLE_GREW,
        "next": "letrozole",
    },
    {"patient_id": "against", **TRIPLE, "metastatic_sites": ["lung"], "next": "tamoxifen"},
    {"patient_id": "chemo", **TRIPLE, "metastatic_sites": ["lung"], "next": "paclitaxel"},
    {"patient_id": "silent", **POST, "next": "paclitaxel"},
    {"patient_id": "nothing", **POST, "next": None},
    {"patient_id": "unknown-drug", **POST, "next": "letrozolium"},
    {"patient_id": "invalid", "er_status": "HER2+", "next": "letrozole"},
]


@pytest.fixture(scope="module")
def result() -> mbc_rules.ConcordanceResult:
    return mbc_rules.concordance(pd.DataFrame(ROWS), given="next")


def by_patient(result: mbc_rules.ConcordanceResult) -> dict[str, dict[str, Any]]:
    return {
        str(r["patient_id"]): {str(k): v for k, v in r.items()}
        for r in result.patients.to_dict("records")
    }


def groups(result: mbc_rules.ConcordanceResult) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (str(r["subgroup"]), str(r["group"])): {str(k): v for k, v in r.items()}
        for r in result.summary().to_dict("records")
    }


def test_each_verdict(result: mbc_rules.ConcordanceResult) -> None:
    rows = by_patient(result)
    expected = {
        "rank1": ("offered", 1, "hormone_therapy", "agent"),
        "lower": ("offered", 2, "targeted_therapy", "agent"),
        "regimen": ("offered", 1, "hormone_therapy", "agent"),
        "chemo": ("offered", 1, "chemotherapy", "category"),
    }
    for pid, (verdict, rank, category, match) in expected.items():
        row = rows[pid]
        assert (row["verdict"], row["rank"], row["category"], row["match"]) == (
            verdict,
            rank,
            category,
            match,
        ), pid
        assert row["concordant"] is True
        assert row["reason_kind"] == ""
    assert rows["regimen"]["given_agents"] == ("letrozole", "palbociclib")
    assert rows["rank1"]["tier"] == "preferred"
    assert set(rows["rank1"]["source_ids"]) >= {"acs", "webmd"}

    grew = rows["grew"]
    assert (grew["verdict"], grew["reason_kind"]) == ("not_recommended", "grew_on_before")
    assert grew["reason"].startswith("The cancer grew on letrozole")
    assert grew["not_offered"] == ("letrozole",)
    assert grew["line"] == "2"  # one line progressed on: this is the second
    against = rows["against"]
    assert (against["verdict"], against["reason_kind"]) == ("not_recommended", "advised_against")
    assert "isn't helpful" in against["reason"]
    assert "hr-negative-no-hormone-therapy" in against["reason"]
    silent = rows["silent"]
    assert (silent["verdict"], silent["reason_kind"]) == ("not_covered", "not_covered")
    assert "no chemotherapy option" in silent["reason"]
    assert silent["concordant"] is False
    for pid, words in (
        ("nothing", "no treatment given"),
        ("unknown-drug", "letrozolium"),
        ("invalid", "er_status"),
    ):
        assert rows[pid]["verdict"] == "not_evaluated"
        assert words in rows[pid]["reason"]
        assert pd.isna(rows[pid]["concordant"])


def test_offered_ranks_are_those_of_a_single_evaluation(
    result: mbc_rules.ConcordanceResult,
) -> None:
    # The single-patient path, not the cohort path, says where each given drug ranks.
    for row, source in zip(result.patients.to_dict("records"), ROWS, strict=True):
        if row["verdict"] != "offered":
            continue
        profile = {k: v for k, v in source.items() if k != "next"}
        evaluation = mbc_rules.evaluate(profile)
        option = evaluation.option(row["category"])
        assert option is not None
        assert option.rank == row["rank"]
        assert tuple(option.source_ids) == row["source_ids"]


def test_summary_shares_by_hand(result: mbc_rules.ConcordanceResult) -> None:
    summary = groups(result)
    # Judged: 7 (nothing, unknown-drug and invalid are not); offered: rank1, lower,
    # regimen, chemo.
    everyone = summary[("all", "all")]
    assert (everyone["patients"], everyone["judged"], everyone["offered"]) == (10, 7, 4)
    assert (everyone["offered_rank_1"], everyone["offered_lower"]) == (3, 1)
    assert (everyone["grew_on_before"], everyone["advised_against"]) == (1, 1)
    assert everyone["not_covered"] == 1
    assert everyone["share_concordant"] == pytest.approx(4 / 7)
    # HR+/HER2-: rank1, lower, regimen, grew, silent judged (nothing, unknown-drug not).
    hr = summary[("receptor_type", "HR+/HER2-")]
    assert (hr["patients"], hr["judged"], hr["offered"]) == (7, 5, 3)
    assert hr["share_concordant"] == pytest.approx(3 / 5)
    tn = summary[("receptor_type", "triple negative")]
    assert (tn["judged"], tn["offered"], tn["share_concordant"]) == (2, 1, 0.5)
    # By site a patient counts under each site: bone has rank1, lower, regimen, grew.
    bone = summary[("site", "bone")]
    assert (bone["judged"], bone["offered"]) == (4, 3)
    assert summary[("site", "liver")]["share_concordant"] == 1.0
    assert summary[("line", "2")]["judged"] == 1
    assert summary[("line", "2")]["offered"] == 0


def test_chunks_and_arrow_give_the_same_answer(result: mbc_rules.ConcordanceResult) -> None:
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame(ROWS)
    small = mbc_rules.concordance(frame, given="next", chunk_rows=3)
    pd.testing.assert_frame_equal(small.patients, result.patients)
    table = pa.Table.from_pandas(frame)
    arrow = mbc_rules.concordance(table, given="next")
    assert list(arrow.patients["verdict"]) == list(result.patients["verdict"])


def test_index_and_hash_are_kept(result: mbc_rules.ConcordanceResult) -> None:
    frame = pd.DataFrame(ROWS, index=[f"row{i}" for i in range(len(ROWS))])
    out = mbc_rules.concordance(frame, given="next")
    assert list(out.patients.index) == list(frame.index)
    assert out.rulebase_hash == mbc_rules.Rulebase.bundled().content_hash
    with pytest.raises(MbcRulesError, match="no column 'given'"):
        mbc_rules.concordance(frame, given="given")


def test_read_given_reads_names_as_profiles_do() -> None:
    vocabulary = mbc_rules.Rulebase.bundled().vocabulary
    assert read_given("Femara", vocabulary) == (("letrozole",), ())
    assert read_given("Ibrance + FEMARA", vocabulary) == (("letrozole", "palbociclib"), ())
    assert read_given("palbociclib with letrozole", vocabulary)[0] == ("letrozole", "palbociclib")
    assert read_given(["Kisqali", "fulvestrant"], vocabulary) == (("fulvestrant", "ribociclib"), ())
    assert read_given("CDK4/6 inhibitor", vocabulary) == (("cdk4_6_inhibitor",), ())
    assert read_given("letrozole/palbociclib", vocabulary)[0] == ("letrozole", "palbociclib")
    assert read_given("aspirin + letrozole", vocabulary) == (("letrozole",), ("aspirin",))
    assert read_given(None, vocabulary) == ((), ())


def test_markdown_and_plot(result: mbc_rules.ConcordanceResult) -> None:
    text = result.markdown()
    assert "| all | all | 10 | 7 | 4 |" in text
    assert "| grew | letrozole | not_recommended | grew_on_before |" in text
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot("receptor_type")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "HR+/HER2-" in labels


def test_cli_writes_csv_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(ROWS)  # the history is a list of structs in Parquet
    path = tmp_path / "cohort.parquet"
    frame.to_parquet(path)
    out = tmp_path / "out"
    assert main(["concordance", str(path), "--given", "next", "--output", str(out)]) == 0
    patients = pd.read_csv(out / "concordance.csv")
    assert list(patients["patient_id"])[:2] == ["rank1", "lower"]
    assert patients.set_index("patient_id").loc["grew", "reason_kind"] == "grew_on_before"
    summary = pd.read_csv(out / "concordance_summary.csv")
    assert summary.iloc[0]["judged"] == 7
    assert (out / "concordance.md").read_text().startswith("# Guideline concordance")
    assert main(["concordance", str(path), "--given", "next"]) == 0
    assert "| all | all | 10 | 7 | 4 |" in capsys.readouterr().out


def test_a_varied_cohort_agrees_with_single_evaluations() -> None:
    # Histories that progressed on HER2 and hormone drugs: the reasons of what the cancer grew
    # on then name the regimens still offered, which differ between patients with the same
    # history. Every "grew on" reason must be the patient's own.
    rng = random.Random(11)
    drugs = ("trastuzumab", "tamoxifen", "letrozole", "paclitaxel", "palbociclib")
    rows = []
    for i in range(400):
        history = [
            {"agent": d, "outcome": rng.choice(("progressed", "completed"))}
            for d in rng.sample(drugs, rng.randint(0, 2))
        ]
        rows.append(
            {
                "patient_id": f"v{i}",
                "er_status": rng.choice(("positive", "negative", "unknown")),
                "pr_status": rng.choice(("positive", "negative")),
                "her2_status": rng.choice(("positive", "negative")),
                "menopausal_status": rng.choice(("premenopausal", "postmenopausal")),
                "metastatic_sites": rng.sample(["bone", "liver", "lung", "brain"], 2),
                "complications": rng.choice(([], ["visceral_crisis"], ["rapid_growth"])),
                "prior_therapies": history,
                "next": rng.choice(drugs),
            }
        )
    out = mbc_rules.concordance(pd.DataFrame(rows), given="next", verify=400)
    grew = out.patients[out.patients["reason_kind"] == "grew_on_before"]
    assert len(grew) > 20
    for row in grew.to_dict("records"):
        source = next(r for r in rows if r["patient_id"] == row["patient_id"])
        evaluation = mbc_rules.evaluate({k: v for k, v in source.items() if k != "next"})
        (drug,) = row["not_offered"]
        reasons = [
            n.reason for n in evaluation.not_recommended if not n.rule_ids and drug in n.agents
        ]
        assert row["reason"] == " ".join(reasons)
        assert all(drug not in o.agents for o in evaluation.options)


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import io

    path = tmp_path / "cohort.parquet"
    pd.DataFrame(ROWS).to_parquet(path)
    err = io.StringIO()
    assert main(["concordance", str(path), "--given", "given"], err=err) == 1
    assert (
        err.getvalue() == "mbc-rules: the cohort has no column 'given' (the treatment given next)\n"
    )
    err = io.StringIO()
    assert main(["concordance", str(tmp_path / "none.parquet")], err=err) == 1
    assert "no such file" in err.getvalue()
