"""Reports for a person: the text table and the Markdown page of one patient."""

from __future__ import annotations

import mbc_rules
from mbc_rules import Rulebase
from mbc_rules.result import Names
from mbc_rules.wording import result_names


def _names(rulebase: Rulebase) -> Names:
    return result_names(rulebase.vocabulary, rulebase.sources, rulebase.vocabulary.agents)


PATIENT = {
    "patient_id": "p-42",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
    "prior_therapies": [{"agent": "Femara", "outcome": "progressed"}],
}


def test_the_markdown_report_is_a_page_a_clinician_can_paste(bundled: Rulebase) -> None:
    result = bundled.evaluate(PATIENT, informative_tests=True)
    page = mbc_rules.report(result, format="markdown")
    assert page.startswith("## Treatment options: patient p-42\n")
    assert "- **receptors**: ER positive, PR positive, HER2 negative" in page
    assert "- **progressed on**: letrozole (progressed, for metastatic disease)" in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(result.options) + 1  # the header and one row per option
    for option in result.options:
        # Every quoted sentence of every option is on the page, with its publisher.
        for citation in option.citations:
            assert " ".join(citation.excerpt.split()) in page
    ranks = [o.rank for o in result.options]
    for rank in {r for r in ranks if ranks.count(r) > 1}:
        assert f"| {rank}= |" in page
    assert "### Tests that would change the answer" in page
    assert "PIK3CA mutation: if a PIK3CA mutation in the tumour: adds alpelisib" in page
    assert result.disclaimer in page
    # Source dates from rules/sources.yaml stand beside the sources that give them.
    acs = bundled.sources["acs"]
    if any(c.source == "acs" for o in result.options for c in o.citations) and acs.dates:
        assert f"last medical review {acs.dates['last_medical_review']}" in page


def test_the_text_report_is_the_command_lines_table(bundled: Rulebase) -> None:
    import io

    from mbc_rules.cli import main

    result = bundled.evaluate(PATIENT, informative_tests=True)
    text = mbc_rules.report(result)
    assert text == bundled.report(result, "text")
    assert text.startswith("Patient p-42: receptors ER positive")
    assert "\nAdvice:\n" in text
    assert "cdk4_6_inhibitor" not in text
    import json
    import sys

    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(json.dumps(PATIENT))
    try:
        assert main(["evaluate", "-"], out, io.StringIO()) == 0
    finally:
        sys.stdin = old
    assert out.getvalue() == text


def test_rule_conditions_read_in_words() -> None:
    from mbc_rules.wording import condition_words

    assert condition_words("chemotherapy_given = true") == "a chemotherapy drug was given"
    assert condition_words("lines_failed ≤ 0") == (
        "no line of treatment for metastatic disease has failed yet"
    )
    assert condition_words("menopausal_status in [premenopausal, unknown]") == (
        "before menopause or menopausal status not known"
    )


def test_the_source_agreement_and_the_history_are_shown_when_the_result_has_them(
    bundled: Rulebase,
) -> None:
    from types import SimpleNamespace

    from mbc_rules.report import agreement_lines, history_lines

    citation = SimpleNamespace(source="webmd", publisher="WebMD", section="s", excerpt="e")
    option = SimpleNamespace(
        agreement=SimpleNamespace(
            supporting=("acs", "pdq"),
            conditions_not_met=(
                SimpleNamespace(
                    source="webmd",
                    publisher="WebMD",
                    agents=("capecitabine",),
                    condition=("chemotherapy_given = true",),
                    rule_id="x",
                    citations=(citation,),
                ),
            ),
        ),
        given_before=(
            SimpleNamespace(agent="palbociclib", outcome="completed", setting="metastatic"),
        ),
        notes=(SimpleNamespace(topic="t", text="Given with anti-HER2 treatment.", citations=()),),
    )
    lines = agreement_lines(option, _names(bundled))  # type: ignore[arg-type]
    assert lines[0] == (
        "supported as offered by American Cancer Society and Navigating Care, adapted from the "
        "National Cancer Institute's PDQ"
    )
    assert lines[1] == (
        "WebMD names capecitabine when a chemotherapy drug was given, not the case here"
    )
    history = history_lines(option, _names(bundled))  # type: ignore[arg-type]
    assert history == (
        "already given without the cancer growing on it: palbociclib (completed, for "
        "metastatic disease)",
        "Given with anti-HER2 treatment.",
    )


# Issue 21: the answer leads every view. A postmenopausal patient after letrozole and
# palbociclib (a later line).
LATER_LINE = {
    "patient_id": "p-7",
    "er_status": "positive",
    "pr_status": "positive",
    "her2_status": "negative",
    "menopausal_status": "postmenopausal",
    "metastatic_sites": ["bone"],
    "complications": [],
    "prior_therapies": [
        {"agent": "letrozole", "outcome": "progressed"},
        {"agent": "palbociclib", "outcome": "progressed"},
    ],
}


def test_the_text_report_opens_with_the_answer_on_one_screen() -> None:
    rulebase = Rulebase.bundled()
    text = rulebase.report(rulebase.evaluate(LATER_LINE))
    head = text.split("\nIn detail:\n")[0].splitlines()
    assert head[0].startswith("Patient p-7: receptors ER positive, PR positive, HER2 negative")
    start = head.index("Choices, in rank order:")
    assert head[start + 1] == (
        "  1 hormone therapy (option): exemestane, fulvestrant, tamoxifen, toremifene"
    )
    assert head[start + 2].startswith("  2 targeted therapy (option): everolimus")
    alongside = head.index("Given alongside:")
    choices = head[start + 1 : alongside]
    # Supportive care is shown alongside, not as a choice.
    assert not any("bone-modifying" in line or "palliative" in line for line in choices)
    assert head[alongside + 1].startswith("  bone-modifying therapy: denosumab")
    refused = head.index("Not recommended:")
    assert head[refused + 1].startswith("  letrozole: The cancer grew on letrozole")
    assert all(len(line) <= 100 for line in head)  # each item one line
    assert len(head) < 25  # on one screen


def test_agreement_is_one_line_per_option() -> None:
    rulebase = Rulebase.bundled()
    text = rulebase.report(rulebase.evaluate(LATER_LINE))
    # Was six lines for hormone therapy, one per source and statement.
    assert text.count("only when no line of treatment for metastatic disease has failed yet") <= (
        len(rulebase.evaluate(LATER_LINE).options)
    )
    # Drug by drug (issue 19): only PDQ, which does not support hormone therapy here, names
    # exemestane and tamoxifen for a first line only.
    flat = " ".join(text.split())
    assert "4 of 5 sources support it as offered; PDQ names exemestane and tamoxifen when" in (flat)
    assert "ACS, WebMD, YSC" not in flat


def test_the_markdown_and_html_views_lead_with_the_same_answer() -> None:
    rulebase = Rulebase.bundled()
    result = rulebase.evaluate(LATER_LINE)
    page = rulebase.report(result, format="markdown")
    lead = page.split("**In detail**")[0]
    assert lead.index("**Choices, in rank order:**") < lead.index("**Given alongside:**")
    assert "- 1 hormone therapy (option): exemestane, fulvestrant, tamoxifen" in lead
    assert "- bone-modifying therapy: denosumab" in lead
    assert "- letrozole: The cancer grew on letrozole" in lead
    assert "### bone-modifying therapy (given alongside, option)" in page
    html = rulebase.html(result)
    answer = html.index("class='mbc-answer'")
    detail = html.index("<details")
    assert answer < detail < html.index("<thead>")  # the ranked table is in the detail
    lead_html = html[answer:detail]
    assert "1 hormone therapy (option): exemestane" in lead_html
    assert lead_html.index("Given alongside:") < lead_html.index("bone-modifying therapy")
