"""The quickstart notebook runs from top to bottom, so it can never go stale."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

import mbc_rules
from mbc_rules import Rulebase, evaluate

from .conftest import ROOT


def test_the_quickstart_notebook_executes() -> None:
    path = ROOT / "docs" / "notebooks" / "quickstart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Rulebase" in h for h in html)
    assert any("exemestane" in h and "citations" in h for h in html)


def test_the_html_of_a_result_shows_table_citations_and_tests() -> None:
    result = evaluate({"er_status": "negative", "pr_status": "negative", "her2_status": "negative"})
    html = mbc_rules.show(result)._repr_html_()
    assert html.count("<tr>") == len(result.options) + 1
    assert "<details>" in html
    assert "Not recommended" in html
    assert "pdl1_status" in html  # an informative test: PD-L1 would add immunotherapy
    assert "&lt;" not in result.options[0].category  # sanity: plain names


def test_the_html_of_a_rulebase_counts_by_category_and_source(bundled: Rulebase) -> None:
    html = bundled._repr_html_()
    assert f"{len(bundled.rules)} rules" in html
    assert "American Cancer Society" in html
