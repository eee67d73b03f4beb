"""Condition resources read: the breast cancer (or another primary cancer), its metastatic
sites and the staging a diagnosis carries.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import mbc_rules.fhir.codes as codes
from mbc_rules.fhir.gathered import Gathered
from mbc_rules.fhir.records import Resource
from mbc_rules.fhir.stages import staging
from mbc_rules.fhir.values import code_set, concepts, extension_concepts, shown, when

_SKIPPED_CONDITION = frozenset({"refuted", "entered-in-error"})
_UNCONFIRMED = frozenset({"unconfirmed", "provisional", "differential"})
_ICD10_UNDOTTED = re.compile(r"^([A-Z]\d{2})(\w{1,4})$")


@lru_cache(maxsize=1)
def _secondary_sites() -> dict[str, str]:
    text = (
        resources.files("mbc_rules.fhir")
        .joinpath("secondary_sites.csv")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["code"]: row["site"] for row in rows}


def condition(gathered: Gathered, resource: Resource) -> None:
    """A Condition: a breast cancer diagnosis (with its staging), a secondary cancer (its
    sites), or another primary cancer.
    """
    data = resource.data
    ref = resource.ref
    verification = code_set(data.get("verificationStatus"))
    if verification & _SKIPPED_CONDITION:
        gathered.warn(
            f"{ref} is {', '.join(sorted(verification & _SKIPPED_CONDITION))}; not read", ref
        )
        return
    found = {_icd10(code) for code in code_set(data.get("code"))}
    date = when(data)
    sites = _secondary_sites()
    breast_site = any(
        code_set(site) & codes.BREAST_SITES for site in concepts(data.get("bodySite"))
    )
    if (
        found & codes.BREAST_CANCER
        or any(c.upper().startswith("C50") for c in found)
        or (breast_site and _is_cancer(data, found))
    ):
        gathered.breast.append(ref)
        if "767444009" in found:
            gathered.metastatic.append((ref, date, "metastatic breast cancer"))
        for stage in data.get("stage") or []:
            if isinstance(stage, dict) and stage.get("summary") is not None:
                staging(gathered, resource, stage.get("summary"), date)
        return
    secondary = [code for code in found if code in sites]
    if secondary:
        if verification & _UNCONFIRMED:
            gathered.warn(
                f"{ref}: the secondary cancer is "
                f"{', '.join(sorted(verification & _UNCONFIRMED))}, not confirmed; not read",
                ref,
            )
            return
        _secondary(gathered, resource, secondary, date)
        return
    if _is_cancer(data, found):
        gathered.other_cancers.append(ref)


def _secondary(gathered: Gathered, resource: Resource, found: list[str], date: str | None) -> None:
    ref = resource.ref
    sites = _secondary_sites()
    kinds = {sites[code] for code in found}
    if codes.METASTATIC_NEOPLASM in found:
        kinds.discard("unstated")
        for site in concepts(resource.data.get("bodySite")):
            for code in code_set(site):
                if code in codes.BODY_SITES:
                    kinds.update(codes.BODY_SITES[code])
                elif code in codes.REGIONAL_NODE_SITES:
                    kinds.add("regional_nodes")
                else:
                    kinds.add("other")
        if not kinds:
            kinds.add("unstated")
    if kinds == {"regional_nodes"}:
        gathered.warn(
            f"{ref}: lymph-node spread that may be the breast's regional nodes "
            f"({shown(resource.data.get('code'))}); not read as distant spread",
            ref,
        )
        return
    gathered.metastatic.append((ref, date, f"secondary cancer {shown(resource.data.get('code'))}"))
    for site in sorted(kinds - {"regional_nodes", "unstated"}):
        gathered.sites.setdefault(site, []).append(ref)
        if site == "spine":
            gathered.sites.setdefault("bone", []).append(ref)


def _icd10(code: str) -> str:
    """ICD-10 codes are written with or without their dot: C7951 is C79.51."""
    match = _ICD10_UNDOTTED.match(code.upper())
    return f"{match.group(1)}.{match.group(2)}" if match else code


def _is_cancer(data: Mapping[str, Any], found: set[str]) -> bool:
    if extension_concepts(data, (codes.HISTOLOGY_EXTENSION,)):
        return True
    if any(
        c[:1].upper() == "C"
        and c[1:3].isdigit()
        and not c.upper().startswith(("C77", "C78", "C79", "C80"))
        for c in found
    ):
        return True
    profiles = data.get("meta", {}).get("profile") if isinstance(data.get("meta"), dict) else None
    return isinstance(profiles, list) and any(
        isinstance(p, str) and p.endswith("primary-cancer-condition") for p in profiles
    )
