"""Medication resources (statements, requests, administrations) read into the cancer drugs
given, with their dates, why they stopped and the setting their intent names; every drug code
seen is kept for the audit table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mbc_rules.fhir.codes as codes
from mbc_rules.fhir.drugs import agents_for_rxnorm, agents_named, agents_named_loosely
from mbc_rules.fhir.gathered import Gathered, Medication
from mbc_rules.fhir.reading import DrugRead
from mbc_rules.fhir.records import Resource, reference_key
from mbc_rules.fhir.values import (
    code_set,
    codings,
    concepts,
    extension_concepts,
    shown,
    span,
    text_of,
)

_RXNORM_OID = "urn:oid:2.16.840.1.113883.6.88"


def medication(gathered: Gathered, resource: Resource) -> None:
    """A medication resource given (not planned, refused or in error): its cancer drugs."""
    data = resource.data
    ref = resource.ref
    status = data.get("status")
    kind = resource.type
    not_given = {
        "MedicationStatement": {"not-taken", "intended", "entered-in-error"},
        "MedicationRequest": {"draft", "cancelled", "entered-in-error"},
        "MedicationAdministration": {"not-done", "entered-in-error"},
    }[kind]
    if status in not_given or (
        kind == "MedicationRequest" and data.get("intent") in ("proposal", "plan")
    ):
        gathered.warn(f"{ref} has status {status} (not given); not read as treatment history", ref)
        return
    concept = _drug_concept(gathered, data)
    agents = _agents(gathered, resource, concept)
    if not agents:
        return
    start, end = span(data)
    reasons = [c for c in concepts(data.get("statusReason"))] + extension_concepts(
        data, codes.TERMINATION_EXTENSIONS
    )
    reason: str | None = None
    for item in reasons:
        for code in code_set(item):
            if code in codes.TERMINATION_REASONS:
                reason = codes.TERMINATION_REASONS[code]
            else:
                gathered.warn(
                    f"{ref}: why the drug stopped ({shown(item)}) is not a reason the reader knows",
                    ref,
                )
    intents = {
        codes.INTENT_SETTING[c]
        for item in extension_concepts(data, codes.INTENT_EXTENSIONS)
        for c in code_set(item)
        if c in codes.INTENT_SETTING
    }
    gathered.medications.append(
        Medication(
            ref=ref,
            agents=agents,
            start=start,
            end=end,
            ongoing=status in ("active", "in-progress"),
            reason=reason,
            intent=intents.pop() if len(intents) == 1 else None,
        )
    )


def _drug_concept(gathered: Gathered, data: Mapping[str, Any]) -> object:
    concept = data.get("medicationCodeableConcept")
    if concept is not None:
        return concept
    key = reference_key(data.get("medicationReference"))
    if key is None:
        return None
    if key.startswith("#"):
        for contained in data.get("contained") or []:
            if isinstance(contained, dict) and f"#{contained.get('id')}" == key:
                return contained.get("code")
        return None
    target = gathered.record.by_ref.get(key) or gathered.record.by_full_url.get(key)
    return target.data.get("code") if target is not None else None


def _agents(gathered: Gathered, resource: Resource, concept: object) -> tuple[str, ...]:
    ref = resource.ref
    coded: set[str] = set()
    unmapped: list[str] = []
    unknown_codes: list[tuple[str, str, str]] = []
    for system, code, display in codings(concept):
        if "rxnorm" in system.lower() or system == _RXNORM_OID:
            found = agents_for_rxnorm(code, gathered.vocabulary)
            if found:
                coded.update(found)
                _audit(gathered, system, code, display, found, "code", ref)
                continue
            unmapped.append(f"RxNorm {code}" + (f" ({display})" if display else ""))
        else:
            unmapped.append(f"{system or 'no system'} {code}")
        unknown_codes.append((system, code, display))
    named = set(agents_named(text_of(concept), gathered.vocabulary))
    if coded:
        for system, code, display in unknown_codes:
            _audit(gathered, system, code, display, (), "not_read", ref)
        if named and named != coded:
            gathered.warn(
                f"{ref}: the drug code means {', '.join(sorted(coded))} but its text says "
                f"{text_of(concept)[:80]!r}; not read",
                ref,
            )
            return ()
        return tuple(sorted(coded))
    if unmapped:
        # No code is known: the display and text are matched against the vocabulary's
        # names (typos within reason), so a cancer drug under an unlisted code still
        # counts in the history, with a warning that it was read from its text.
        loose, typos = agents_named_loosely(text_of(concept), gathered.vocabulary)
        for system, code, display in unknown_codes:
            _audit(gathered, system, code, display, loose, "text" if loose else "not_read", ref)
        if loose:
            spelled = "".join(f"; {typo!r} read as {name!r}" for typo, name in typos.items())
            gathered.warn(
                f"{ref}: drug code {', '.join(unmapped)[:120]} is not one the reader knows; "
                f"read from its text {text_of(concept)[:80]!r} as {', '.join(loose)}"
                f"{spelled}",
                ref,
                kind="drug_from_text",
            )
            return loose
        for label in unmapped:
            gathered.unmapped.setdefault(label, []).append(ref)
        return ()
    if named:
        gathered.warn(
            f"{ref}: drug read from its text {text_of(concept)[:80]!r} (no code)",
            ref,
            kind="assumption",
        )
        return tuple(sorted(named))
    gathered.warn(f"{ref}: no drug code or name the reader knows; not read", ref)
    return ()


def _audit(
    gathered: Gathered,
    system: str,
    code: str,
    display: str,
    drugs: tuple[str, ...],
    how: DrugRead,
    ref: str,
) -> None:
    key = (system[:200], code[:200], display[:200])
    entry = gathered.drug_codes.setdefault(key, (drugs, how, []))
    if len(entry[2]) < 50:
        entry[2].append(ref)


# --- settling ---------------------------------------------------------------------------
