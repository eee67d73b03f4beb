"""Rich display in notebooks: HTML for a result and for a rulebase.

Functions of values only (a result, its informative tests, a rulebase's rules and sources):
``Rulebase.html`` and ``Rulebase._repr_html_`` hand them what they show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape

from mbc_rules.result import CitedSource, Evaluation, InformativeTest
from mbc_rules.schema import Rule, Source

_STYLE = (
    "<style>.mbc table{border-collapse:collapse}.mbc td,.mbc th{padding:2px 8px;"
    "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    ".mbc details{margin:2px 0}.mbc .muted{color:#666}</style>"
)


class Html:
    """HTML that a notebook shows as such (``_repr_html_``); ``str()`` gives the markup."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def _citations(citations: Sequence[CitedSource]) -> str:
    items = "".join(
        f"<li><b>{escape(c.publisher)}</b>, <i>{escape(c.section)}</i>: "
        f"&ldquo;{escape(c.excerpt)}&rdquo;</li>"
        for c in citations
    )
    return f"<details><summary>{len(citations)} citations</summary><ul>{items}</ul></details>"


def evaluation_html(result: Evaluation, tests: Sequence[InformativeTest] = ()) -> str:
    """The result as HTML.

    Ranked table, drugs, collapsible citations, what is not recommended, ``tests`` (the
    informative tests of the result) and caveats.
    """
    rows = "".join(
        "<tr>"
        f"<td>{o.rank}</td><td>{escape(o.category)}</td><td>{escape(o.tier)}</td>"
        f"<td>{escape(', '.join(o.agents)) or '&ndash;'}"
        + "".join(f"<br><span class='muted'>{escape(r.name)}</span>" for r in o.regimens)
        + f"</td><td>{_citations(o.citations)}</td>"
        "</tr>"
        for o in result.options
    )
    parts = [
        _STYLE,
        "<div class='mbc'>",
        "<table><tr><th>rank</th><th>category</th><th>tier</th><th>agents and regimens</th>"
        f"<th>sources</th></tr>{rows}</table>",
    ]
    if result.not_recommended:
        items = "".join(
            f"<li><b>{escape(n.category or ', '.join(n.agents))}</b>: {escape(n.reason)}"
            f"{_citations(n.citations)}</li>"
            for n in result.not_recommended
        )
        parts.append(f"<h4>Not recommended</h4><ul>{items}</ul>")
    if tests:
        items = "".join(
            f"<li><b>{escape(t.status)}</b>: "
            + "; ".join(
                f"if {escape(o.value)}: "
                + ", ".join(
                    x
                    for x in (
                        "adds " + escape(", ".join((*o.options_appear, *o.agents_appear)))
                        if o.options_appear or o.agents_appear
                        else "",
                        "removes " + escape(", ".join((*o.options_disappear, *o.agents_disappear)))
                        if o.options_disappear or o.agents_disappear
                        else "",
                        f"moves {len(o.rank_changes)} options" if o.rank_changes else "",
                    )
                    if x
                )
                for o in t.outcomes
            )
            + "</li>"
            for t in tests
        )
        parts.append(f"<h4>Tests that would change the answer</h4><ul>{items}</ul>")
    if result.advice:
        items = "".join(f"<li>{escape(a.text)}</li>" for a in result.advice)
        parts.append(f"<h4>Advice</h4><ul>{items}</ul>")
    for caveat in result.caveats:
        parts.append(f"<p><b>Note:</b> {escape(caveat)}</p>")
    parts.append(
        f"<p class='muted'>{escape(result.disclaimer)} Rulebase {escape(result.rulebase_version)}"
        f" ({escape(result.rulebase_hash[:12])}).</p></div>"
    )
    return "".join(parts)


def rulebase_html(
    *, version: str, rules: Sequence[Rule], sources: Mapping[str, Source], agents: int, engine: str
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
        f"<tr><td>{escape(c)}</td><td>{n}</td></tr>" for c, n in by_category.most_common()
    )
    source_rows = "".join(
        f"<tr><td>{escape(s.publisher)}</td><td>{by_source[s.id]}</td></tr>"
        for s in sources.values()
    )
    return (
        f"{_STYLE}<div class='mbc'><p><b>Rulebase {escape(version)}</b>: "
        f"{len(rules)} rules ({', '.join(f'{n} {k}' for k, n in kinds.items())}), "
        f"{agents} drugs and procedures, engine {escape(engine)}.</p>"
        "<table style='display:inline-table;margin-right:2em'><tr><th>category</th>"
        f"<th>offering rules</th></tr>{category_rows}</table>"
        "<table style='display:inline-table'><tr><th>source</th><th>citations</th></tr>"
        f"{source_rows}</table></div>"
    )
