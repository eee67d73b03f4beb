"""Reading single FHIR elements: codings, dates and the result value of a measurement.

Every function here tolerates malformed input (a wrong type reads as absent) so that one bad
element costs one warning, never the reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import mbc_rules.fhir.codes as codes

Qualitative = Literal["positive", "negative", "equivocal"]


def codings(concept: object) -> list[tuple[str, str, str]]:
    """(system, code, display) of each well-formed coding of a CodeableConcept."""
    if not isinstance(concept, dict):
        return []
    found = []
    coding = concept.get("coding")
    if isinstance(coding, list):
        for item in coding:
            if isinstance(item, dict) and isinstance(item.get("code"), str):
                system = item.get("system")
                display = item.get("display")
                found.append(
                    (
                        system if isinstance(system, str) else "",
                        item["code"].strip(),
                        display if isinstance(display, str) else "",
                    )
                )
    return found


def code_set(concept: object) -> set[str]:
    """Every code of a CodeableConcept, whatever its system."""
    return {code for _, code, _ in codings(concept)}


def concepts(value: object) -> list[object]:
    """A CodeableConcept or a list of them, as a list."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def text_of(concept: object) -> str:
    """The concept's text and displays, for messages and name matching."""
    if not isinstance(concept, dict):
        return ""
    parts = [display for _, _, display in codings(concept) if display]
    text = concept.get("text")
    if isinstance(text, str) and text:
        parts.insert(0, text)
    return "; ".join(dict.fromkeys(parts))


def shown(concept: object) -> str:
    """``system|code`` list for messages."""
    found = codings(concept)
    if not found:
        return repr(text_of(concept) or "no code")
    return ", ".join(f"{_short(system)} {code}" for system, code, _ in found)


def _short(system: str) -> str:
    for key, name in (
        ("loinc", "LOINC"),
        ("snomed", "SNOMED"),
        ("rxnorm", "RxNorm"),
        ("genenames", "HGNC"),
        ("cancerstaging", "AJCC"),
        ("ObservationInterpretation", "v3"),
        ("icd-10", "ICD-10"),
    ):
        if key.lower() in system.lower():
            return name
    return system or "?"


_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def date_of(value: object) -> str | None:
    """A FHIR date or dateTime as ``YYYY-MM-DD`` (missing month or day read as the first)."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if not match:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    return f"{year}-{month}-{day}"


def when(data: Mapping[str, Any]) -> str | None:
    """When a resource's statement holds (effective, onset, recorded, authored, issued)."""
    for key in ("effectiveDateTime", "effectiveInstant", "onsetDateTime", "occurrenceDateTime"):
        found = date_of(data.get(key))
        if found:
            return found
    for key in ("effectivePeriod", "onsetPeriod"):
        period = data.get(key)
        if isinstance(period, dict):
            found = date_of(period.get("start")) or date_of(period.get("end"))
            if found:
                return found
    for key in ("recordedDate", "authoredOn", "issued", "dateAsserted"):
        found = date_of(data.get(key))
        if found:
            return found
    return None


def span(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(start, end) of a medication record; a single date is both."""
    period = data.get("effectivePeriod")
    if isinstance(period, dict):
        return date_of(period.get("start")), date_of(period.get("end"))
    single = date_of(data.get("effectiveDateTime")) or date_of(data.get("authoredOn"))
    return single, (None if data.get("status") in ("active", "in-progress") else single)


@dataclass(frozen=True)
class Value:
    """What a measurement (an Observation or one of its components) says."""

    qualitative: Qualitative | None = None
    number: float | None = None
    unit: str = ""
    score: str | None = None  # an IHC score: "0", "1+", "2+", "3+"
    contradiction: str | None = None
    unread: str | None = None  # a value present but in no form the reader knows

    @property
    def empty(self) -> bool:
        """The value says nothing (no qualitative answer, number or text)."""
        return (
            self.qualitative is None
            and self.number is None
            and self.score is None
            and self.contradiction is None
        )


_WORDS: dict[str, Qualitative] = {
    "positive": "positive",
    "pos": "positive",
    "+": "positive",
    "negative": "negative",
    "neg": "negative",
    "-": "negative",
    "equivocal": "equivocal",
}
_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%\s*$")
_SCORE = re.compile(r"^\s*([0-3])\s*(\+?)\s*$")


def _score(text: str) -> str | None:
    match = _SCORE.match(text)
    if not match:
        return None
    digit = match.group(1)
    return digit if digit == "0" else digit + "+"


def _from_codes(found: set[str]) -> tuple[Qualitative | None, str | None]:
    said: set[Qualitative] = set()
    if found & codes.POSITIVE_ANSWERS:
        said.add("positive")
    if found & codes.NEGATIVE_ANSWERS:
        said.add("negative")
    if found & codes.EQUIVOCAL_ANSWERS:
        said.add("equivocal")
    if len(said) > 1:
        return None, "its codes say " + " and ".join(sorted(said))
    return (next(iter(said)) if said else None), None


def value_of(holder: Mapping[str, Any]) -> Value:
    """Read ``value[x]`` and ``interpretation`` of an Observation or component."""
    qualitative: Qualitative | None = None
    number: float | None = None
    unit = ""
    score: str | None = None
    unread: str | None = None
    concept = holder.get("valueCodeableConcept")
    if concept is not None:
        qualitative, contradiction = _from_codes(code_set(concept))
        if contradiction:
            return Value(contradiction=contradiction)
        if qualitative is None:
            texts = [d for _, _, d in codings(concept)]
            text = concept.get("text") if isinstance(concept, dict) else None
            if isinstance(text, str):
                texts.append(text)
            # No code the reader knows: the text alone may still say a plain word or a score
            # ("Positive", "3+"), read exactly as a valueString would be.
            words = {w for w in (_WORDS.get(t.strip().casefold()) for t in texts) if w}
            scores = {s for s in (_score(t) for t in texts) if s}
            if len(words) == 1 and not scores:
                qualitative = words.pop()
            elif len(scores) == 1 and not words:
                score = scores.pop()
            else:
                unread = shown(concept)
    quantity = holder.get("valueQuantity")
    if isinstance(quantity, dict):
        raw = quantity.get("value")
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            number = float(raw)
            unit = str(quantity.get("code") or quantity.get("unit") or "")
        else:
            unread = f"quantity {raw!r}"
    integer = holder.get("valueInteger")
    if isinstance(integer, int) and not isinstance(integer, bool):
        number = float(integer)
    string = holder.get("valueString")
    if isinstance(string, str):
        word = _WORDS.get(string.strip().casefold())
        percent = _PERCENT.match(string)
        if word:
            qualitative = word
        elif _score(string):
            score = _score(string)
        elif percent:
            number, unit = float(percent.group(1)), "%"
        else:
            unread = repr(string[:60])
    interpretation: set[str] = set()
    for item in concepts(holder.get("interpretation")):
        interpretation |= code_set(item)
    said, contradiction = _from_codes(interpretation)
    if contradiction:
        return Value(contradiction="its interpretation " + contradiction[4:])
    if said is not None:
        if qualitative is not None and qualitative != said:
            return Value(
                contradiction=f"its value says {qualitative} and its interpretation {said}"
            )
        qualitative = said
    return Value(qualitative, number, unit, score, None, unread)


def is_percent(value: Value) -> bool:
    """The value is a percentage (by its unit)."""
    return value.unit.strip() in ("%", "percent", "{percent}")


def extension_concepts(data: Mapping[str, Any], names: tuple[str, ...]) -> list[object]:
    """ValueCodeableConcepts of the extensions whose URL ends with one of ``names``."""
    found = []
    extensions = data.get("extension")
    if isinstance(extensions, list):
        for extension in extensions:
            if not isinstance(extension, dict):
                continue
            url = extension.get("url")
            if isinstance(url, str) and url.rstrip("/").split("/")[-1] in names:
                found.append(extension.get("valueCodeableConcept"))
    return found
