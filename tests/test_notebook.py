"""The quickstart notebook runs from top to bottom, so it can never go stale."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import nbformat

import mbc_rules
from mbc_rules import Rulebase, evaluate

from .conftest import ROOT

EXAMPLE = {
    "patient_id": "example-1",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
    "complications": ["bone_pain"],
    "prior_therapies": [{"agent": "Femara", "outcome": "progressed"}],
}


def _notebook_tool() -> Any:
    spec = importlib.util.spec_from_file_location("notebook_tool", ROOT / "tools" / "notebook.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quickstart_notebook_executes_to_its_stored_outputs() -> None:
    tool = _notebook_tool()
    stored = nbformat.read(tool.NOTEBOOK, as_version=4)
    notebook = tool.executed()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Rulebase" in h for h in html)
    # The bare result at the end of a cell renders as the answer, not as pydantic's repr.
    bare = next(h for h in html if "class='mbc-result'" in h)
    assert "Choices, in rank order:" in bare
    assert bare.index("class='mbc-answer'") < bare.index("<details")
    assert "exemestane" in bare
    assert "citations" in bare
    assert tool.comparable(stored) == tool.comparable(notebook), (
        "docs/notebooks/quickstart.ipynb holds outputs the code no longer gives: run make notebook"
    )


def test_the_html_of_a_result_shows_table_citations_and_tests() -> None:
    result = evaluate({"er_status": "negative", "pr_status": "negative", "her2_status": "negative"})
    html = mbc_rules.show(result)._repr_html_()
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    assert body.count("<tr>") == len(result.options)
    assert "<details" in html
    assert "Not recommended" in html
    assert "PD-L1" in html  # an informative test: PD-L1 would add immunotherapy
    assert "pdl1_status" not in html


def _cells(html: str) -> list[str]:
    return re.findall(r"<t[dh] style='([^']*)'", html)


def test_every_cell_is_left_aligned_by_an_inline_style_that_no_notebook_css_outranks() -> None:
    # JupyterLab's ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td {text-align:right}"
    # beats any single class selector; an inline style beats every selector.
    html = mbc_rules.show(evaluate(EXAMPLE))._repr_html_()
    assert "<td>" not in html
    assert "<th>" not in html
    styles = _cells(html)
    assert styles
    assert all("text-align:left" in s for s in styles)
    assert "<style" not in html  # dropped by some viewers; everything needed is inline


def test_the_view_names_the_patient_and_the_deciding_facts_in_words() -> None:
    html = mbc_rules.show(evaluate(EXAMPLE))._repr_html_()
    assert "Patient example-1" in html
    assert "ER positive, PR positive, HER2 negative" in html
    assert "postmenopausal" in html
    assert "letrozole (progressed, for metastatic disease)" in html
    # Drugs by name, class placeholders as classes: never an id.
    assert "a CDK4/6 inhibitor" in html
    assert "cdk4_6_inhibitor" not in html
    assert "hormone_therapy" not in html


def test_the_html_of_a_tied_ranking_marks_the_tie() -> None:
    # PD-L1 positive triple-negative disease: chemotherapy and immunotherapy share rank 1 (the
    # example used before now has no tie: the sources' orderings separate its options).
    result = evaluate(
        {
            "er_status": "negative",
            "pr_status": "negative",
            "her2_status": "negative",
            "pdl1_status": "positive",
            "prior_therapies": [],
        }
    )
    ranks = [o.rank for o in result.options]
    tied = {r for r in ranks if ranks.count(r) > 1}
    assert tied, "this profile's answer has options that share a rank"
    html = mbc_rules.show(result)._repr_html_()
    for rank in tied:
        assert html.count(f">{rank}=<br>") == ranks.count(rank)
    assert html.count(">tied</span>") == sum(ranks.count(r) for r in tied)
    assert "= marks choices that share a place" in html
    single = next(r for r in ranks if ranks.count(r) == 1)
    assert f">{single}=<br>" not in html


def test_citations_are_grouped_by_drug_strongest_first_with_source_dates() -> None:
    rulebase = Rulebase.bundled()
    result = rulebase.evaluate(EXAMPLE)
    from mbc_rules.report import read_options

    views = read_options(result)
    for view in views:
        order = [{"preferred": 0, "option": 1, "situational": 2}[g.tier] for g in view.groups]
        assert order == sorted(order)
        cited = {(c.source, c.excerpt) for g in view.groups for c in g.citations}
        assert cited == {(c.source, c.excerpt) for c in view.option.citations}
    targeted = next(v for v in views if v.option.category == "targeted_therapy")
    labels = [g.label for g in targeted.groups]
    assert any("everolimus" in label for label in labels)
    html = mbc_rules.show(result)._repr_html_()
    acs = rulebase.sources["acs"].dates
    if acs and any(c.source == "acs" for o in result.options for c in o.citations):
        assert f"last medical review {acs['last_medical_review']}" in html
    assert "1 citations" not in html


def test_tier_badges_are_coloured_labels() -> None:
    html = mbc_rules.show(evaluate(EXAMPLE))._repr_html_()
    assert re.search(r"background:#[0-9a-f]{6};color:#ffffff[^>]*>option</span>", html)


def test_the_html_of_a_rulebase_counts_by_category_and_source(bundled: Rulebase) -> None:
    html = bundled._repr_html_()
    assert f"{len(bundled.rules)} rules" in html
    assert "American Cancer Society" in html
