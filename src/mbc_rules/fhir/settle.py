"""Settling each field from what the resources gave: one value is the field; values that
disagree leave it unknown with a conflict (or, with ``conflicts="latest"``, the latest value
with a warning). Whether the cancer has spread, and since when, is settled here too.
"""

from __future__ import annotations

from typing import Any

from mbc_rules.fhir.gathered import Finding, Gathered
from mbc_rules.fhir.reading import FhirConflict


def _settle(
    gathered: Gathered, field_name: str, found: list[Finding], target: str | None = None
) -> Any:
    """One value for a field from its findings, or None when they disagree."""
    target = target or field_name
    values = {f.value for f in found}
    refs = [f.ref for f in found]
    if len(values) == 1:
        gathered.provenance[target] = refs
        return found[0].value
    said = "; ".join(f"{f.ref} says {f.what}" + (f" ({f.date})" if f.date else "") for f in found)
    dates = sorted({f.date for f in found if f.date})
    if gathered.policy == "report" and len(dates) > 1 and all(f.date for f in found):
        # A re-test (a metastasis biopsied, as the sources say it may be) tells a story in
        # time, but the sources do not say which result to treat by: say which is newer
        # and why neither is used, rather than choose.
        newest = {f.value for f in found if f.date == dates[-1]}
        if len(newest) == 1:
            said += (
                f"; the newest ({dates[-1]}) says {next(iter(newest))}; neither is used, "
                "as the sources do not say whether a re-test replaces the earlier result "
                "(conflicts='latest' uses the newest)"
            )
    if gathered.policy == "latest":
        dated = [f for f in found if f.date]
        if len(dated) == len(found):
            latest = max(f.date for f in dated if f.date)
            last = {f.value for f in dated if f.date == latest}
            if len(last) == 1:
                value = last.pop()
                gathered.provenance[target] = [f.ref for f in dated if f.date == latest]
                older = sorted({f.date for f in dated if f.date != latest and f.date})
                gathered.warn(
                    f"{field_name}: the record disagrees ({said}); the latest ({latest}), "
                    f"{value}, is used"
                    + (f" over the older ({', '.join(older)})" if older else ""),
                    *refs,
                    kind="settled_by_latest",
                )
                return value
    gathered.conflicts.append(
        FhirConflict(
            field=target,
            message=f"the record disagrees: {said}; left unknown",
            resources=tuple(dict.fromkeys(refs)),
        )
    )
    return None


def markers(gathered: Gathered) -> None:
    """Settle sex, the markers, menopausal status and the BRCA status from their findings."""
    by_field: dict[str, list[Finding]] = {}
    for finding in gathered.findings:
        by_field.setdefault(finding.field, []).append(finding)
    for name in (
        "sex",
        "er_status",
        "pr_status",
        "her2_status",
        "pik3ca_status",
        "pdl1_status",
        "menopausal_status",
    ):
        if name in by_field:
            value = _settle(gathered, name, by_field[name])
            if value is not None:
                gathered.data[name] = value
    if gathered.her2_equivocal and "her2_ish" not in by_field:
        gathered.warn(
            "HER2 equivocal (IHC 2+) and no in-situ hybridisation result: her2_status needs "
            "an ISH test",
            *gathered.her2_equivocal,
        )
    genes: dict[str, Any] = {}
    for gene in ("brca1", "brca2"):
        if gene in by_field:
            genes[gene] = _settle(gathered, "brca_status", by_field[gene], target="brca_status")
    gene_refs = [f.ref for g in ("brca1", "brca2") for f in by_field.get(g, [])]
    if "positive" in genes.values():
        gathered.data["brca_status"] = "positive"
        gathered.provenance["brca_status"] = [
            f.ref for g in ("brca1", "brca2") for f in by_field.get(g, []) if f.value == "positive"
        ]
    elif genes.get("brca1") == "negative" and genes.get("brca2") == "negative":
        gathered.data["brca_status"] = "negative"
        gathered.provenance["brca_status"] = gene_refs
    elif genes and None not in genes.values():
        gathered.provenance.pop("brca_status", None)
        missing = "BRCA2" if "brca2" not in genes else "BRCA1"
        gathered.warn(
            f"a germline {missing} result is missing: brca_status left unknown", *gene_refs
        )
    if gathered.data.get("sex") == "male" and "menopausal_status" in gathered.data:
        gathered.conflicts.append(
            FhirConflict(
                field="menopausal_status",
                message="a menopausal status is recorded for a male patient; left unknown",
                resources=tuple(
                    gathered.provenance.get("menopausal_status", [])
                    + gathered.provenance.get("sex", [])
                ),
            )
        )
        del gathered.data["menopausal_status"]
        gathered.provenance.pop("menopausal_status", None)


def metastasis(gathered: Gathered) -> None:
    """Settle the metastatic sites, whether the cancer has spread, since when, and de novo."""
    if gathered.sites:
        gathered.data["metastatic_sites"] = sorted(gathered.sites)
        gathered.provenance["metastatic_sites"] = [
            r for site in sorted(gathered.sites) for r in gathered.sites[site]
        ]
    if not gathered.breast:
        if gathered.other_cancers:
            gathered.warn(
                "the primary cancer recorded is not breast cancer (no breast cancer code "
                "the reader knows); the rules are for metastatic breast cancer only",
                *gathered.other_cancers,
                kind="not_breast_cancer",
            )
        else:
            gathered.warn(
                "the record holds no breast cancer diagnosis (Condition)",
                kind="no_breast_cancer_diagnosis",
            )
    if not gathered.metastatic:
        refs = [r for r, _, _ in gathered.not_metastatic]
        said = "; ".join(f"{r}: {what}" for r, _, what in gathered.not_metastatic)
        gathered.warn(
            "the record does not establish metastatic disease"
            + (f" ({said})" if said else " (no secondary cancer, stage IV or M1)"),
            *refs,
            kind="not_metastatic",
        )
        gathered.spread = False if gathered.not_metastatic else None
        return
    gathered.spread = True
    # Spread is one-way: "not spread" dated before the first dated evidence of spread is
    # the story of a recurrence, whatever undated evidence also says spread. Only a "not
    # spread" of the same date or later, or one without a date, disagrees.
    first = min((d for _, d, _ in gathered.metastatic if d), default=None)
    before = [n for n in gathered.not_metastatic if n[1] and first and n[1] < first]
    clashing = [n for n in gathered.not_metastatic if n not in before]
    if before:
        gathered.data["de_novo"] = False
        gathered.provenance["de_novo"] = [r for r, _, _ in before] + [
            r for r, _, _ in gathered.metastatic
        ]
        gathered.warn(
            "staging before the metastases said the cancer had not spread: read as spread "
            f"after diagnosis (not de novo); first metastatic record {first}",
            *[r for r, _, _ in before],
            *[r for r, _, _ in gathered.metastatic],
            kind="assumption",
        )
    if clashing:
        said = "; ".join(
            f"{r} says {what}" + (f" ({d})" if d else "")
            for r, d, what in [*gathered.metastatic, *clashing]
        )
        refs = [r for r, _, _ in gathered.metastatic] + [r for r, _, _ in clashing]
        latest_met = max((d or "" for _, d, _ in gathered.metastatic), default="")
        latest_not = max((d or "" for _, d, _ in clashing), default="")
        if gathered.policy == "latest" and latest_met and latest_not and latest_met > latest_not:
            gathered.warn(
                f"metastatic_disease: the record disagrees ({said}); the latest says metastatic",
                *refs,
                kind="settled_by_latest",
            )
        else:
            gathered.spread = None
            gathered.conflicts.append(
                FhirConflict(
                    field="metastatic_disease",
                    message=f"the record disagrees whether the cancer has spread: {said}",
                    resources=tuple(dict.fromkeys(refs)),
                )
            )
            gathered.warn(
                "the record does not establish metastatic disease (it contradicts itself)",
                *refs,
                kind="not_metastatic",
            )
    gathered.metastasis_date = first
