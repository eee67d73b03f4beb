"""Staging values (a stage group or an M category, coded or named in a display) read as the
cancer having spread or not.
"""

from __future__ import annotations

import re

import mbc_rules.fhir.codes as codes
from mbc_rules.fhir.gathered import Gathered
from mbc_rules.fhir.records import Resource
from mbc_rules.fhir.values import codings, shown, text_of

_STAGE_NAMED = re.compile(r"\bstage\s+(IV|4|III|II|I|0|[123])(?:[ABC]\d?)?\b", re.IGNORECASE)
_M_NAMED = re.compile(r"\b[cp]?M([01])(?:[a-d]\d?)?\b")


def staging(gathered: Gathered, resource: Resource, concept: object, date: str | None) -> None:
    """Add a staging value's word on spread to ``gathered`` (or a warning when not understood)."""
    said = stage(concept)
    if said is None:
        # AJCC's many SNOMED stage codes (STU3+) are not all listed: their display names
        # the stage plainly ("American Joint Committee on Cancer stage IIIC").
        said = stage_named(text_of(concept))
        if said is not None:
            gathered.warn(
                f"{resource.ref}: staging code {shown(concept)} read from its display "
                f"{text_of(concept)[:80]!r}",
                resource.ref,
                kind="assumption",
            )
    if said is None:
        gathered.warn(
            f"{resource.ref}: staging value {shown(concept)} is not one the reader knows; not read",
            resource.ref,
        )
    elif said:
        gathered.metastatic.append((resource.ref, date, f"staging {shown(concept)}"))
    else:
        gathered.not_metastatic.append((resource.ref, date, f"staging {shown(concept)}"))


def stage(concept: object) -> bool | None:
    """True for stage IV / M1, False for stage 0-III / M0, None when not understood."""
    for system, code, _ in codings(concept):
        if code in codes.STAGE_IV_VALUES or code in codes.M1_VALUES:
            return True
        if code in codes.STAGE_I_TO_III_VALUES or code in codes.M0_VALUES:
            return False
        if "cancerstaging" in system or system == "":
            said = ajcc(code)
            if said is not None:
                return said
    return None


def stage_named(text: str) -> bool | None:
    """The spread a display names ("stage IIIC", "cM1"), when it names one only."""
    found = {m.group(1).upper() in ("IV", "4") for m in _STAGE_NAMED.finditer(text)}
    found |= {m.group(1) == "1" for m in _M_NAMED.finditer(text)}
    return found.pop() if len(found) == 1 else None


def ajcc(code: str) -> bool | None:
    """An AJCC stage or M category written as text ("cM1", "pIIIA", "4")."""
    text = code.strip().upper()
    for prefix in ("YP", "YC", "C", "P", "R", "A"):
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix) :]
            break
    if text.startswith("M"):
        rest = text[1:]
        if rest.startswith("1"):
            return True
        if rest.startswith("0"):
            return False
        return None
    for roman, number in (("IV", "4"), ("III", "3"), ("II", "2"), ("I", "1"), ("0", "0")):
        if text.startswith(roman) or text.startswith(number):
            return number == "4"
    return None
