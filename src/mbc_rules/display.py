"""Rich display in notebooks: HTML for a result, an explanation and a rulebase.

Every style is inline. Notebook front ends style tables with their own rules, and some of
those outrank a class selector (JupyterLab's ``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon
td {text-align: right}``); GitHub and some viewers drop ``<style>`` elements altogether. An
inline style beats any selector, so the view reads the same in JupyterLab, the classic
Notebook, VS Code and a plain browser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape

from mbc_rules.report import (
    TESTS_NOT_ASKED,
    CitationGroup,
    answer_block,
    informative_test_name,
    local_marker,
    not_recommended_lines,
    outcome_changes,
    read_options,
    source_dates,
    tests_of,
)
from mbc_rules.result import EvaluationValues, Names
from mbc_rules.schema import Rule, Source
from mbc_rules.wording import category_name, patient_facts

_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "line-height:1.45;text-align:left;max-width:1100px"
)
_TABLE = "border-collapse:collapse;margin:6px 0;width:100%;table-layout:auto"
_CELL = (
    "text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #d0d7de;"
    "white-space:normal"
)
_HEAD = _CELL + ";font-weight:600;border-bottom:2px solid #8c959f"
_MUTED = "color:#57606a"
_H = "margin:12px 0 4px 0;font-size:14px;font-weight:600;text-align:left"
_TIER_COLOURS = {
    "preferred": ("#1a7f37", "#ffffff"),
    "option": ("#0969da", "#ffffff"),
    "situational": ("#9a6700", "#ffffff"),
}


class Html:
    """HTML that a notebook shows as such (``_repr_html_``); ``str()`` gives the markup."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def _td(content: str, extra: str = "") -> str:
    return f"<td style='{_CELL};{extra}'>{content}</td>"


def _th(content: str) -> str:
    return f"<th style='{_HEAD}'>{content}</th>"


def badge(text: str, background: str = "#6e7781", colour: str = "#ffffff") -> str:
    """A small coloured label."""
    return (
        f"<span style='display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;"
        f"font-weight:600;background:{background};color:{colour};white-space:nowrap'>"
        f"{escape(text)}</span>"
    )


def tier_badge(tier: str) -> str:
    """The tier as a coloured badge: preferred green, option blue, situational amber."""
    background, colour = _TIER_COLOURS.get(tier, ("#6e7781", "#ffffff"))
    return badge(tier, background, colour)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _group_html(group: CitationGroup, names: Names) -> str:
    items = []
    for citation in group.citations:
        dates = source_dates(names, citation.source)
        items.append(
            f"<li style='margin:3px 0;text-align:left'>&ldquo;{escape(citation.excerpt)}&rdquo;"
            f"<br><span style='{_MUTED}'>{escape(citation.publisher)}, "
            f"<i>{escape(citation.section)}</i>"
            + (f" ({escape(dates)})" if dates else "")
            + "</span></li>"
        )
    title = (
        f"<div style='margin-top:4px;text-align:left'><b>{escape(group.label)}</b> "
        f"{tier_badge(group.tier)}</div>"
        if group.label
        else ""
    )
    return (
        f"{title}<ul style='margin:2px 0 4px 18px;padding:0;text-align:left'>{''.join(items)}</ul>"
    )


def _citations_html(groups: Sequence[CitationGroup], names: Names) -> str:
    count = sum(len(g.citations) for g in groups)
    sources = len({c.source for g in groups for c in g.citations})
    summary = f"{_plural(count, 'citation')} from {_plural(sources, 'source')}"
    body = "".join(_group_html(g, names) for g in groups)
    return (
        f"<details style='text-align:left'><summary style='cursor:pointer;{_MUTED}'>{summary}"
        f"</summary>{body}</details>"
    )


def _header(result: EvaluationValues) -> str:
    who = result.profile.patient_id or "(no patient id)"
    facts = "".join(
        f"<tr style='background:transparent'><td style='{_CELL};{_MUTED};border:none;"
        "padding:1px 8px 1px 0;white-space:nowrap;background:transparent'>"
        f"{escape(label)}</td><td style='{_CELL};border:none;padding:1px 0;"
        f"background:transparent'>{escape(words)}</td>"
        "</tr>"
        for label, words in patient_facts(result.profile, result.names)
    )
    return (
        f"<div style='font-size:15px;font-weight:600;text-align:left'>Patient {escape(who)}</div>"
        f"<table style='border-collapse:collapse;margin:2px 0 6px 0'>{facts}</table>"
    )


def _answer_html(result: EvaluationValues) -> str:
    # The answer block of every view (report.answer_block), its headings bold, one line each.
    lines = []
    for line in answer_block(result, width=160):
        if line.startswith("  "):
            lines.append(
                f"<div style='text-align:left;margin-left:16px'>{escape(line.strip())}</div>"
            )
        else:
            lines.append(
                f"<div style='text-align:left;font-weight:600;margin-top:4px'>{escape(line)}</div>"
            )
    return f"<div class='mbc-answer' style='margin:4px 0 8px 0'>{''.join(lines)}</div>"


def _outcome_html(line: str) -> str:
    # Directions get an arrow the eye finds: up in green, down in red.
    text = escape(line)
    text = text.replace(" up (", " <span style='color:#1a7f37'>&#9650; up</span> (")
    return text.replace(" down (", " <span style='color:#cf222e'>&#9660; down</span> (")


def evaluation_html(result: EvaluationValues) -> str:
    """The result as HTML: the patient and the facts that decided the answer, the ranked
    options with tier badges, ties marked, the rationale and the citations grouped by drug
    or regimen (strongest first, with source dates), how the sources agree, what is not
    recommended, the advice, the tests that would change the answer (when the result carries
    them), and the notes: ``result._repr_html_()``, a function of the result alone.
    """
    names = result.names
    tests = tests_of(result)
    views = read_options(result)
    rows = []
    for view in views:
        rank = escape(view.rank_label)
        if view.tied:
            rank += "<br>" + badge("tied", "#eaeef2", "#24292f")
        drugs = "<br>".join(escape(d) for d in view.drugs) or (
            f"<span style='{_MUTED}'>no single drug named</span>"
        )
        regimens = "".join(
            f"<li style='margin:1px 0;text-align:left'>{escape(r)}</li>" for r in view.regimens
        )
        if regimens:
            regimens = (
                f"<div style='{_MUTED};margin-top:4px;text-align:left'>regimens:</div>"
                f"<ul style='margin:0 0 0 16px;padding:0;text-align:left'>{regimens}</ul>"
            )
        why = "".join(
            f"<li style='margin:1px 0;text-align:left'>{escape(r)}</li>"
            for r in view.option.rationale
        )
        agreement = "".join(
            f"<div style='text-align:left;margin-top:2px'><b>Sources:</b> {escape(line)}</div>"
            for line in view.agreement
        ) + "".join(
            f"<div style='text-align:left;margin-top:2px'><b>Note:</b> {escape(line)}</div>"
            for line in view.history
        )
        rows.append(
            "<tr>"
            + _td(rank, "font-weight:600;white-space:nowrap")
            + _td(
                f"<b>{escape(view.name)}</b>"
                + (
                    "<br>"
                    + badge("local", "#fff8c5", "#4d2d00")
                    + f"<div style='{_MUTED};text-align:left'>"
                    f"{escape(', '.join(view.option.local_rules))}</div>"
                    if view.option.local_rules
                    else ""
                )
            )
            + _td(
                tier_badge(view.option.tier)
                + (
                    "<br>" + badge("alongside", "#eaeef2", "#24292f")
                    if view.option.role == "supportive"
                    else ""
                )
            )
            + _td(drugs + regimens)
            + _td(
                f"<ul style='margin:0 0 0 16px;padding:0;text-align:left'>{why}</ul>{agreement}"
                + _citations_html(view.groups, names)
            )
            + "</tr>"
        )
    parts = [f"<div class='mbc-result' style=\"{_BOX}\">", _header(result)]
    parts.append(_answer_html(result))
    # The detail (rationale, agreement, citations, tests) is there on request, below the answer.
    parts.append(
        f"<details style='text-align:left'><summary style='cursor:pointer;{_MUTED}'>"
        "In detail: rationale, sources, citations, tests that would change the answer"
        "</summary>"
    )
    if rows:
        parts.append(
            f"<table style='{_TABLE}'><thead><tr>{_th('rank')}{_th('option')}{_th('tier')}"
            f"{_th('drugs and regimens')}{_th('why')}</tr></thead><tbody>{''.join(rows)}"
            "</tbody></table>"
        )
        if any(v.tied for v in views):
            parts.append(
                f"<div style='{_MUTED};text-align:left'>= marks choices that share a place: "
                "equal on every ordering rule.</div>"
            )
    refused = not_recommended_lines(result)
    if refused:
        items = "".join(
            f"<li style='text-align:left'>{escape(line)}"
            + _citations_html([CitationGroup("", "", tuple(item.citations))], names)
            + "</li>"
            for line, item in zip(refused, result.not_recommended, strict=True)
        )
        parts.append(
            f"<div style='{_H}'>Not recommended</div><ul style='text-align:left'>{items}</ul>"
        )
    if result.advice:
        items = "".join(
            f"<li style='text-align:left'>{escape(a.text + local_marker(a))}</li>"
            for a in result.advice
        )
        parts.append(f"<div style='{_H}'>Advice</div><ul style='text-align:left'>{items}</ul>")
    if tests is None:
        parts.append(
            f"<div style='{_H}'>Tests that would change the answer</div>"
            f"<p style='{_MUTED};text-align:left'>{escape(TESTS_NOT_ASKED)}</p>"
        )
    elif tests:
        items = "".join(
            f"<li style='text-align:left'><b>{escape(informative_test_name(t, names))}</b><ul>"
            + "".join(
                f"<li style='text-align:left'>{escape(value)}:<ul style='margin:0 0 2px 16px;"
                "padding:0'>"
                + "".join(
                    f"<li style='text-align:left'>{_outcome_html(change)}</li>"
                    for change in changes
                )
                + "</ul></li>"
                for value, changes in outcome_changes(t, names)
            )
            + "</ul></li>"
            for t in tests
        )
        parts.append(
            f"<div style='{_H}'>Tests that would change the answer</div>"
            f"<ul style='text-align:left'>{items}</ul>"
        )
    for caveat in result.caveats:
        parts.append(f"<p style='text-align:left'><b>Note:</b> {escape(caveat)}</p>")
    parts.append("</details>")
    parts.append(
        f"<p style='{_MUTED};text-align:left'>{escape(result.disclaimer)} Rulebase "
        f"{escape(result.rulebase_version)} ({escape(result.rulebase_hash[:12])}).</p></div>"
    )
    return "".join(parts)


def explanation_html(text: str, offered: bool) -> str:
    """An explanation's text as HTML: the verdict first (green when offered, red when not),
    then each section (a line ending in a colon) with its points, the quoted sentences set
    under the point they support.
    """
    lines = text.splitlines()
    verdict = lines[0] if lines else ""
    colour = "#1a7f37" if offered else "#cf222e"
    parts = [
        f"<div class='mbc-explanation' style=\"{_BOX}\">",
        f"<div style='font-weight:600;font-size:14px;color:{colour};text-align:left'>"
        f"{escape(verdict)}</div>",
    ]
    items: list[str] = []

    def close() -> None:
        if items:
            parts.append(
                "<ul style='margin:2px 0 6px 18px;padding:0;text-align:left'>"
                + "".join(f"<li style='margin:2px 0;text-align:left'>{i}</li>" for i in items)
                + "</ul>"
            )
            items.clear()

    for line in lines[1:]:
        if not line.strip():
            close()
        elif line.startswith("- "):
            items.append(escape(line[2:]))
        elif line.startswith("    ") and items:
            items[-1] += (
                f"<div style='{_MUTED};margin:1px 0 0 8px;text-align:left'>"
                f"{escape(line.strip())}</div>"
            )
        elif line.endswith(":"):
            close()
            parts.append(f"<div style='{_H}'>{escape(line)}</div>")
        else:
            close()
            parts.append(f"<p style='{_MUTED};text-align:left;margin:4px 0'>{escape(line)}</p>")
    close()
    parts.append("</div>")
    return "".join(parts)


def rulebase_html(
    *,
    version: str,
    rules: Sequence[Rule],
    sources: Mapping[str, Source],
    agents: int,
    engine: str,
) -> str:
    """A rulebase as HTML: counts of rules by category and of citations by source."""
    by_category: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for rule in rules:
        then = rule.then
        if then.offer is not None:
            by_category[then.offer.category] += 1
            kinds["offer"] += 1
        elif then.not_recommended is not None:
            kinds["not recommended"] += 1
        else:
            kinds["advice"] += 1
    by_source = Counter(c.source for r in rules for c in r.citations)
    category_rows = "".join(
        f"<tr>{_td(escape(category_name(c)))}{_td(str(n), 'text-align:right')}</tr>"
        for c, n in by_category.most_common()
    )
    source_rows = "".join(
        f"<tr>{_td(escape(s.publisher))}{_td(str(by_source[s.id]), 'text-align:right')}</tr>"
        for s in sources.values()
    )
    table = "border-collapse:collapse;display:inline-table;vertical-align:top;margin-right:2em"
    return (
        f"<div class='mbc-rulebase' style=\"{_BOX}\"><p style='text-align:left'><b>Rulebase "
        f"{escape(version)}</b>: {len(rules)} rules "
        f"({', '.join(f'{n} {k}' for k, n in kinds.items())}), "
        f"{agents} drugs and procedures, engine {escape(engine)}.</p>"
        f"<table style='{table}'><tr>{_th('category')}{_th('offering rules')}</tr>"
        f"{category_rows}</table>"
        f"<table style='{table}'><tr>{_th('source')}{_th('citations')}</tr>"
        f"{source_rows}</table></div>"
    )
