"""Read one patient's FHIR R4 / mCODE record into a :class:`PatientProfile`.

The reader collects *findings* (a field, a value, the resource, its date) from every resource
it recognises by code, then settles each field: one value -> the field; disagreeing values ->
unknown and a conflict (or, with ``conflicts="latest"``, the latest value and a warning). A
field no resource gives keeps its unknown default.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import ValidationError

import mbc_rules.fhir.codes as codes
from mbc_rules.errors import FhirReadError
from mbc_rules.fhir.drugs import agents_for_rxnorm, agents_named, agents_named_loosely
from mbc_rules.fhir.reading import (
    DrugRead,
    FhirConflict,
    FhirDrugCode,
    FhirEvidence,
    FhirReading,
    FhirWarning,
    WarningKind,
)
from mbc_rules.fhir.records import Record, Resource, reference_key, short
from mbc_rules.fhir.values import (
    Qualitative,
    Value,
    code_set,
    codings,
    concepts,
    extension_concepts,
    is_percent,
    shown,
    span,
    text_of,
    value_of,
    when,
)
from mbc_rules.profile import PatientProfile
from mbc_rules.vocabulary import Vocabulary

ConflictPolicy = Literal["report", "latest"]
_FAR_FUTURE = "9999-12-31"
_SKIPPED_OBSERVATION = frozenset({"entered-in-error", "cancelled"})
_SKIPPED_CONDITION = frozenset({"refuted", "entered-in-error"})
_UNCONFIRMED = frozenset({"unconfirmed", "provisional", "differential"})
_ICD10_UNDOTTED = re.compile(r"^([A-Z]\d{2})(\w{1,4})$")
# Classes whose members are routinely given together (trastuzumab with pertuzumab).
_COMBINED_CLASSES = frozenset({"anti_her2_antibody"})
_IHC_SCORES: dict[str, Qualitative] = {
    "0": "negative",
    "1+": "negative",
    "2+": "equivocal",
    "3+": "positive",
}
_RXNORM_OID = "urn:oid:2.16.840.1.113883.6.88"
_MARKER_WORDS = ("estrogen", "oestrogen", "progesterone", "her2", "erbb2", "pd-l1", "pdl1")


@dataclass(frozen=True)
class Finding:
    """One value the record gives for a profile field, and the resources it comes from."""

    field: str
    value: Any
    ref: str
    date: str | None
    what: str


@dataclass
class _Medication:
    ref: str
    agents: tuple[str, ...]
    start: str | None
    end: str | None
    ongoing: bool
    reason: str | None  # outcome named by a termination reason
    intent: str | None  # setting named by treatment intent


@dataclass
class _Therapy:
    agent: str
    setting: str
    refs: list[str] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    ongoing_latest: bool = False
    latest: str = ""
    reasons: set[str] = field(default_factory=set)
    progressed_by: list[str] = field(default_factory=list)

    @property
    def start(self) -> str | None:
        return min(self.starts) if self.starts else None

    @property
    def end(self) -> str | None:
        if self.ongoing_latest:
            return _FAR_FUTURE
        return max(self.ends) if self.ends else self.start


@lru_cache(maxsize=1)
def _secondary_sites() -> dict[str, str]:
    text = (
        resources.files("mbc_rules.fhir")
        .joinpath("secondary_sites.csv")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {row["code"]: row["site"] for row in rows}


class _Reader:
    def __init__(self, record: Record, vocabulary: Vocabulary, policy: ConflictPolicy) -> None:
        self.record = record
        self.vocabulary = vocabulary
        self.policy = policy
        self.findings: list[Finding] = []
        self.conflicts: list[FhirConflict] = []
        self.warnings: list[FhirWarning] = [
            FhirWarning(kind=k, message=m, resources=r) for k, m, r in record.notes
        ]
        self.provenance: dict[str, list[str]] = {}
        self.data: dict[str, Any] = {}
        self.sites: dict[str, list[str]] = {}
        self.metastatic: list[tuple[str, str | None, str]] = []
        self.not_metastatic: list[tuple[str, str | None, str]] = []
        self.breast: list[str] = []
        self.other_cancers: list[str] = []
        self.her2_equivocal: list[str] = []
        self.disease_worse: list[tuple[str, str | None]] = []
        self.medications: list[_Medication] = []
        self.medication_records = 0
        self.unmapped: dict[str, list[str]] = {}
        # (system, code, display) -> (drugs, how read, resources): the audit table.
        self.drug_codes: dict[
            tuple[str, str, str], tuple[tuple[str, ...], DrugRead, list[str]]
        ] = {}
        self.metastasis_date: str | None = None
        self.spread: bool | None = None

    def warn(self, message: str, *refs: str, kind: WarningKind = "not_read") -> None:
        self.warnings.append(
            FhirWarning(kind=kind, message=message, resources=tuple(dict.fromkeys(refs)))
        )

    def find(self, field_name: str, value: Any, resource: Resource, what: str) -> None:
        self.findings.append(Finding(field_name, value, resource.ref, when(resource.data), what))

    # --- per resource ----------------------------------------------------------------------

    def read(self) -> FhirReading:
        for resource in self.record.resources:
            try:
                self._resource(resource)
            except (TypeError, AttributeError, ValueError, KeyError, ArithmeticError) as error:
                # A shape the checks above did not foresee (a 400-digit number overflows a
                # float): this resource is skipped, loudly, its message cut to a readable size.
                self.warn(
                    f"{resource.ref} could not be read ({short(str(error))}); not read",
                    resource.ref,
                )
        self._settle_markers()
        self._settle_metastasis()
        self._settle_therapies()
        return self._reading()

    def _resource(self, resource: Resource) -> None:
        kind = resource.type
        if kind == "Patient":
            self._patient(resource)
        elif kind == "Observation":
            self._observation(resource)
        elif kind == "Condition":
            self._condition(resource)
        elif kind in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
            self.medication_records += 1
            self._medication(resource)

    def _patient(self, resource: Resource) -> None:
        gender = resource.data.get("gender")
        if gender in ("female", "male"):
            self.find("sex", gender, resource, f"Patient.gender {gender}")
        elif gender is not None:
            self.warn(
                f"{resource.ref}: gender {str(gender)[:40]!r} leaves sex unknown", resource.ref
            )

    def _observation(self, resource: Resource) -> None:
        data = resource.data
        status = data.get("status")
        found = code_set(data.get("code"))
        if status in _SKIPPED_OBSERVATION:
            if self._recognised(found):
                self.warn(f"{resource.ref} has status {status}; not read", resource.ref)
            return
        self._measurement(resource, data, found)
        components = data.get("component")
        if isinstance(components, list):
            if any(
                code_set(c.get("code")) & {codes.GENE_STUDIED}
                for c in components
                if isinstance(c, dict)
            ):
                self._variant(resource, components)
            else:
                for component in components:
                    if isinstance(component, dict):
                        self._measurement(resource, component, code_set(component.get("code")))
        if codes.MENOPAUSAL_STATUS in found:
            values = code_set(data.get("valueCodeableConcept"))
            statuses = {codes.MENOPAUSE_VALUES[v] for v in values if v in codes.MENOPAUSE_VALUES}
            if len(statuses) == 1:
                status_value = statuses.pop()
                self.find("menopausal_status", status_value, resource, status_value)
            else:
                self.warn(
                    f"{resource.ref}: menopausal status value "
                    f"{shown(data.get('valueCodeableConcept'))} is not one the reader knows "
                    "(309606002, 307429007); not read",
                    resource.ref,
                )
        if found & codes.DISEASE_STATUS and codes.WORSENED in code_set(
            data.get("valueCodeableConcept")
        ):
            self.disease_worse.append((resource.ref, when(data)))
        if found & (codes.STAGE_GROUP | codes.M_CATEGORY):
            self._staging(resource, data.get("valueCodeableConcept"), when(data))

    def _recognised(self, found: set[str]) -> bool:
        return bool(
            found
            & (
                codes.ER_QUALITATIVE
                | codes.PR_QUALITATIVE
                | codes.HER2_IHC
                | codes.HER2_ISH
                | codes.PDL1_QUALITATIVE
                | {codes.HER2_ISH_RATIO, codes.HER2_INTERPRETATION, codes.MENOPAUSAL_STATUS}
                | codes.DISEASE_STATUS
                | codes.STAGE_GROUP
                | codes.M_CATEGORY
            )
        )

    def _measurement(self, resource: Resource, holder: Mapping[str, Any], found: set[str]) -> None:
        ref = resource.ref
        if found & codes.ER_QUALITATIVE:
            self._receptor("er_status", "ER", resource, holder)
        elif found & codes.PR_QUALITATIVE:
            self._receptor("pr_status", "PR", resource, holder)
        elif found & codes.HER2_IHC:
            self._her2(resource, holder, "IHC")
        elif found & codes.HER2_ISH:
            self._her2(resource, holder, "ISH")
        elif codes.HER2_ISH_RATIO in found:
            self._her2(resource, holder, "ratio")
        elif codes.HER2_INTERPRETATION in found:
            self._her2(resource, holder, "interpretation")
        elif found & codes.PDL1_QUALITATIVE or codes.PDL1_NUMERIC in found:
            self._pdl1(resource, holder)
        elif codes.ER_AND_PR_COMBINED in found:
            self.warn(f"{ref}: a combined ER+PR result does not say which receptor; not read", ref)
        elif found & (codes.RECEPTOR_UNREAD | codes.HER2_UNREAD):
            self.warn(
                f"{ref}: {shown(holder.get('code'))} is a quantitative or serum assay with no "
                "cut-off in the sources; not read",
                ref,
            )
        elif holder is resource.data and not self._recognised(found):
            text = text_of(holder.get("code")).casefold()
            if any(word in text for word in _MARKER_WORDS):
                self.warn(
                    f"{ref}: code {shown(holder.get('code'))} is not a tumour-marker code the "
                    f"reader knows, though its text says {text_of(holder.get('code'))[:80]!r}; "
                    "not read",
                    ref,
                )

    def _value(self, resource: Resource, holder: Mapping[str, Any], label: str) -> Value | None:
        value = value_of(holder)
        if value.contradiction:
            self.warn(
                f"{resource.ref}: {label} result contradicts itself "
                f"({value.contradiction}); not read",
                resource.ref,
            )
            return None
        if value.empty:
            if holder is resource.data and value.unread is None and holder.get("component"):
                return None  # a panel: its components hold the results
            detail = f" ({value.unread})" if value.unread else ""
            self.warn(
                f"{resource.ref}: {label} result has no value the reader knows{detail}; not read",
                resource.ref,
            )
            return None
        return value

    def _receptor(
        self, field_name: str, label: str, resource: Resource, holder: Mapping[str, Any]
    ) -> None:
        value = self._value(resource, holder, label)
        if value is None:
            return
        if value.qualitative in ("positive", "negative"):
            self.find(field_name, value.qualitative, resource, f"{label} {value.qualitative}")
        elif value.qualitative == "equivocal":
            self.warn(f"{resource.ref}: {label} equivocal; {field_name} left unknown", resource.ref)
        elif value.number is not None and is_percent(value):
            status = "positive" if value.number >= 1 else "negative"
            self.find(field_name, status, resource, f"{label} {value.number:g}% stained")
        else:
            self.warn(
                f"{resource.ref}: {label} value {_said(value)} is not a percentage of "
                "stained cells; not read",
                resource.ref,
            )

    def _her2(self, resource: Resource, holder: Mapping[str, Any], method: str) -> None:
        value = self._value(resource, holder, f"HER2 {method}")
        if value is None:
            return
        ref = resource.ref
        if method == "ratio":
            if value.number is None:
                self.warn(f"{ref}: HER2 ISH ratio has no number; not read", ref)
                return
            status = "positive" if value.number >= 2.0 else "negative"
            self.find("her2_status", status, resource, f"HER2/CEP17 ratio {value.number:g} (ISH)")
            self.find("her2_ish", status, resource, "ISH ratio")
            return
        qualitative = value.qualitative
        score = value.score
        if (
            score is None
            and value.number is not None
            and method == "IHC"
            and value.number in (0, 1, 2, 3)
        ):
            score = "0" if value.number == 0 else f"{int(value.number)}+"
        if qualitative is None and score is not None and method in ("IHC", "interpretation"):
            qualitative = _IHC_SCORES[score]
        if qualitative is None:
            self.warn(f"{ref}: HER2 {method} value is not one the reader knows; not read", ref)
            return
        if qualitative == "equivocal":
            if method == "ISH":
                self.warn(f"{ref}: HER2 ISH equivocal; not read", ref)
            else:
                self.her2_equivocal.append(ref)
            return
        detail = f"HER2 {method} {score or qualitative}"
        self.find("her2_status", qualitative, resource, detail)
        if method == "ISH":
            self.find("her2_ish", qualitative, resource, detail)

    def _pdl1(self, resource: Resource, holder: Mapping[str, Any]) -> None:
        value = self._value(resource, holder, "PD-L1")
        if value is None:
            return
        if value.qualitative in ("positive", "negative"):
            self.find("pdl1_status", value.qualitative, resource, f"PD-L1 {value.qualitative}")
        else:
            self.warn(
                f"{resource.ref}: PD-L1 given as {_said(value)}; the positive cut-off "
                "depends on the assay and score, which the sources do not set; "
                "pdl1_status left unknown",
                resource.ref,
            )

    def _variant(self, resource: Resource, components: list[Any]) -> None:
        ref = resource.ref
        genes: set[str] = set()
        source: set[str] = set()
        significance: set[str] = set()
        detail = False
        for component in components:
            if not isinstance(component, dict):
                continue
            found = code_set(component.get("code"))
            concept = component.get("valueCodeableConcept")
            if codes.GENE_STUDIED in found:
                for system, code, _ in codings(concept):
                    if (
                        system.rstrip("/") in {s.rstrip("/") for s in codes.HGNC_SYSTEMS}
                        or system == ""
                    ):
                        key = code if code.startswith("HGNC:") else f"HGNC:{code}"
                        gene = codes.GENES.get(key) or (
                            code.upper() if code.upper() in codes.GENES.values() else None
                        )
                        if gene:
                            genes.add(gene)
            if codes.GENOMIC_SOURCE_CLASS in found:
                source |= code_set(concept)
            if codes.CLINICAL_SIGNIFICANCE in found:
                significance |= code_set(concept)
            if found & codes.VARIANT_DETAIL:
                detail = True
        if not genes:
            return  # a gene the rules do not use, or a region studied without a result
        if codes.GENE_STUDIED in code_set(resource.data.get("code")) or "53041-0" in code_set(
            resource.data.get("code")
        ):
            return  # a region studied: the genes tested, not a variant found
        value = code_set(resource.data.get("valueCodeableConcept"))
        if value & codes.NEGATIVE_ANSWERS:
            present = False
        elif value & codes.POSITIVE_ANSWERS or (not value and detail):
            present = True
        else:
            self.warn(
                f"{ref}: variant of {', '.join(sorted(genes))} says neither present nor "
                "absent; not read",
                ref,
            )
            return
        if present and significance & codes.NOT_PATHOGENIC:
            self.warn(
                f"{ref}: {', '.join(sorted(genes))} variant is benign or of uncertain "
                "significance; it is not read as a mutation",
                ref,
            )
            return
        status = "positive" if present else "negative"
        germline = codes.GERMLINE in source
        somatic = codes.SOMATIC in source
        for gene in sorted(genes):
            if gene == "PIK3CA":
                self.find(
                    "pik3ca_status",
                    status,
                    resource,
                    f"PIK3CA variant {'present' if present else 'absent'}",
                )
            elif germline and not somatic:
                self.find(
                    gene.lower(),
                    status,
                    resource,
                    f"germline {gene} variant {'present' if present else 'absent'}",
                )
            elif somatic and not germline:
                self.warn(
                    f"{ref}: a somatic (tumour) {gene} variant does not establish the germline "
                    "BRCA mutation brca_status means; not read",
                    ref,
                )
            else:
                self.warn(
                    f"{ref}: the {gene} variant does not say germline or somatic "
                    "(component 48002-0); brca_status is germline only; not read",
                    ref,
                )

    def _staging(self, resource: Resource, concept: object, date: str | None) -> None:
        said = _stage(concept)
        if said is None:
            # AJCC's many SNOMED stage codes (STU3+) are not all listed: their display names
            # the stage plainly ("American Joint Committee on Cancer stage IIIC").
            said = _stage_named(text_of(concept))
            if said is not None:
                self.warn(
                    f"{resource.ref}: staging code {shown(concept)} read from its display "
                    f"{text_of(concept)[:80]!r}",
                    resource.ref,
                    kind="assumption",
                )
        if said is None:
            self.warn(
                f"{resource.ref}: staging value {shown(concept)} is not one the reader "
                "knows; not read",
                resource.ref,
            )
        elif said:
            self.metastatic.append((resource.ref, date, f"staging {shown(concept)}"))
        else:
            self.not_metastatic.append((resource.ref, date, f"staging {shown(concept)}"))

    def _condition(self, resource: Resource) -> None:
        data = resource.data
        ref = resource.ref
        verification = code_set(data.get("verificationStatus"))
        if verification & _SKIPPED_CONDITION:
            self.warn(
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
            self.breast.append(ref)
            if "767444009" in found:
                self.metastatic.append((ref, date, "metastatic breast cancer"))
            for stage in data.get("stage") or []:
                if isinstance(stage, dict) and stage.get("summary") is not None:
                    self._staging(resource, stage.get("summary"), date)
            return
        secondary = [code for code in found if code in sites]
        if secondary:
            if verification & _UNCONFIRMED:
                self.warn(
                    f"{ref}: the secondary cancer is "
                    f"{', '.join(sorted(verification & _UNCONFIRMED))}, not confirmed; not read",
                    ref,
                )
                return
            self._secondary(resource, secondary, date)
            return
        if _is_cancer(data, found):
            self.other_cancers.append(ref)

    def _secondary(self, resource: Resource, found: list[str], date: str | None) -> None:
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
            self.warn(
                f"{ref}: lymph-node spread that may be the breast's regional nodes "
                f"({shown(resource.data.get('code'))}); not read as distant spread",
                ref,
            )
            return
        self.metastatic.append((ref, date, f"secondary cancer {shown(resource.data.get('code'))}"))
        for site in sorted(kinds - {"regional_nodes", "unstated"}):
            self.sites.setdefault(site, []).append(ref)
            if site == "spine":
                self.sites.setdefault("bone", []).append(ref)

    def _medication(self, resource: Resource) -> None:
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
            self.warn(f"{ref} has status {status} (not given); not read as treatment history", ref)
            return
        concept = self._drug_concept(data)
        agents = self._agents(resource, concept)
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
                    self.warn(
                        f"{ref}: why the drug stopped ({shown(item)}) is not a reason the "
                        "reader knows",
                        ref,
                    )
        intents = {
            codes.INTENT_SETTING[c]
            for item in extension_concepts(data, codes.INTENT_EXTENSIONS)
            for c in code_set(item)
            if c in codes.INTENT_SETTING
        }
        self.medications.append(
            _Medication(
                ref=ref,
                agents=agents,
                start=start,
                end=end,
                ongoing=status in ("active", "in-progress"),
                reason=reason,
                intent=intents.pop() if len(intents) == 1 else None,
            )
        )

    def _drug_concept(self, data: Mapping[str, Any]) -> object:
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
        target = self.record.by_ref.get(key) or self.record.by_full_url.get(key)
        return target.data.get("code") if target is not None else None

    def _agents(self, resource: Resource, concept: object) -> tuple[str, ...]:
        ref = resource.ref
        coded: set[str] = set()
        unmapped: list[str] = []
        unknown_codes: list[tuple[str, str, str]] = []
        for system, code, display in codings(concept):
            if "rxnorm" in system.lower() or system == _RXNORM_OID:
                found = agents_for_rxnorm(code, self.vocabulary)
                if found:
                    coded.update(found)
                    self._audit(system, code, display, found, "code", ref)
                    continue
                unmapped.append(f"RxNorm {code}" + (f" ({display})" if display else ""))
            else:
                unmapped.append(f"{system or 'no system'} {code}")
            unknown_codes.append((system, code, display))
        named = set(agents_named(text_of(concept), self.vocabulary))
        if coded:
            for system, code, display in unknown_codes:
                self._audit(system, code, display, (), "not_read", ref)
            if named and named != coded:
                self.warn(
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
            loose, typos = agents_named_loosely(text_of(concept), self.vocabulary)
            for system, code, display in unknown_codes:
                self._audit(system, code, display, loose, "text" if loose else "not_read", ref)
            if loose:
                spelled = "".join(f"; {typo!r} read as {name!r}" for typo, name in typos.items())
                self.warn(
                    f"{ref}: drug code {', '.join(unmapped)[:120]} is not one the reader knows; "
                    f"read from its text {text_of(concept)[:80]!r} as {', '.join(loose)}"
                    f"{spelled}",
                    ref,
                    kind="drug_from_text",
                )
                return loose
            for label in unmapped:
                self.unmapped.setdefault(label, []).append(ref)
            return ()
        if named:
            self.warn(
                f"{ref}: drug read from its text {text_of(concept)[:80]!r} (no code)",
                ref,
                kind="assumption",
            )
            return tuple(sorted(named))
        self.warn(f"{ref}: no drug code or name the reader knows; not read", ref)
        return ()

    def _audit(
        self,
        system: str,
        code: str,
        display: str,
        drugs: tuple[str, ...],
        how: DrugRead,
        ref: str,
    ) -> None:
        key = (system[:200], code[:200], display[:200])
        entry = self.drug_codes.setdefault(key, (drugs, how, []))
        if len(entry[2]) < 50:
            entry[2].append(ref)

    # --- settling ---------------------------------------------------------------------------

    def _settle(self, field_name: str, found: list[Finding], target: str | None = None) -> Any:
        """One value for a field from its findings, or None when they disagree."""
        target = target or field_name
        values = {f.value for f in found}
        refs = [f.ref for f in found]
        if len(values) == 1:
            self.provenance[target] = refs
            return found[0].value
        said = "; ".join(
            f"{f.ref} says {f.what}" + (f" ({f.date})" if f.date else "") for f in found
        )
        dates = sorted({f.date for f in found if f.date})
        if self.policy == "report" and len(dates) > 1 and all(f.date for f in found):
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
        if self.policy == "latest":
            dated = [f for f in found if f.date]
            if len(dated) == len(found):
                latest = max(f.date for f in dated if f.date)
                last = {f.value for f in dated if f.date == latest}
                if len(last) == 1:
                    value = last.pop()
                    self.provenance[target] = [f.ref for f in dated if f.date == latest]
                    older = sorted({f.date for f in dated if f.date != latest and f.date})
                    self.warn(
                        f"{field_name}: the record disagrees ({said}); the latest ({latest}), "
                        f"{value}, is used"
                        + (f" over the older ({', '.join(older)})" if older else ""),
                        *refs,
                        kind="settled_by_latest",
                    )
                    return value
        self.conflicts.append(
            FhirConflict(
                field=target,
                message=f"the record disagrees: {said}; left unknown",
                resources=tuple(dict.fromkeys(refs)),
            )
        )
        return None

    def _settle_markers(self) -> None:
        by_field: dict[str, list[Finding]] = {}
        for finding in self.findings:
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
                value = self._settle(name, by_field[name])
                if value is not None:
                    self.data[name] = value
        if self.her2_equivocal and "her2_ish" not in by_field:
            self.warn(
                "HER2 equivocal (IHC 2+) and no in-situ hybridisation result: her2_status needs "
                "an ISH test",
                *self.her2_equivocal,
            )
        genes: dict[str, Any] = {}
        for gene in ("brca1", "brca2"):
            if gene in by_field:
                genes[gene] = self._settle("brca_status", by_field[gene], target="brca_status")
        gene_refs = [f.ref for g in ("brca1", "brca2") for f in by_field.get(g, [])]
        if "positive" in genes.values():
            self.data["brca_status"] = "positive"
            self.provenance["brca_status"] = [
                f.ref
                for g in ("brca1", "brca2")
                for f in by_field.get(g, [])
                if f.value == "positive"
            ]
        elif genes.get("brca1") == "negative" and genes.get("brca2") == "negative":
            self.data["brca_status"] = "negative"
            self.provenance["brca_status"] = gene_refs
        elif genes and None not in genes.values():
            self.provenance.pop("brca_status", None)
            missing = "BRCA2" if "brca2" not in genes else "BRCA1"
            self.warn(
                f"a germline {missing} result is missing: brca_status left unknown", *gene_refs
            )
        if self.data.get("sex") == "male" and "menopausal_status" in self.data:
            self.conflicts.append(
                FhirConflict(
                    field="menopausal_status",
                    message="a menopausal status is recorded for a male patient; left unknown",
                    resources=tuple(
                        self.provenance.get("menopausal_status", [])
                        + self.provenance.get("sex", [])
                    ),
                )
            )
            del self.data["menopausal_status"]
            self.provenance.pop("menopausal_status", None)

    def _settle_metastasis(self) -> None:
        if self.sites:
            self.data["metastatic_sites"] = sorted(self.sites)
            self.provenance["metastatic_sites"] = [
                r for site in sorted(self.sites) for r in self.sites[site]
            ]
        if not self.breast:
            if self.other_cancers:
                self.warn(
                    "the primary cancer recorded is not breast cancer (no breast cancer code "
                    "the reader knows); the rules are for metastatic breast cancer only",
                    *self.other_cancers,
                    kind="not_breast_cancer",
                )
            else:
                self.warn(
                    "the record holds no breast cancer diagnosis (Condition)",
                    kind="no_breast_cancer_diagnosis",
                )
        if not self.metastatic:
            refs = [r for r, _, _ in self.not_metastatic]
            said = "; ".join(f"{r}: {what}" for r, _, what in self.not_metastatic)
            self.warn(
                "the record does not establish metastatic disease"
                + (f" ({said})" if said else " (no secondary cancer, stage IV or M1)"),
                *refs,
                kind="not_metastatic",
            )
            self.spread = False if self.not_metastatic else None
            return
        self.spread = True
        # Spread is one-way: "not spread" dated before the first dated evidence of spread is
        # the story of a recurrence, whatever undated evidence also says spread. Only a "not
        # spread" of the same date or later, or one without a date, disagrees.
        first = min((d for _, d, _ in self.metastatic if d), default=None)
        before = [n for n in self.not_metastatic if n[1] and first and n[1] < first]
        clashing = [n for n in self.not_metastatic if n not in before]
        if before:
            self.data["de_novo"] = False
            self.provenance["de_novo"] = [r for r, _, _ in before] + [
                r for r, _, _ in self.metastatic
            ]
            self.warn(
                "staging before the metastases said the cancer had not spread: read as spread "
                f"after diagnosis (not de novo); first metastatic record {first}",
                *[r for r, _, _ in before],
                *[r for r, _, _ in self.metastatic],
                kind="assumption",
            )
        if clashing:
            said = "; ".join(
                f"{r} says {what}" + (f" ({d})" if d else "")
                for r, d, what in [*self.metastatic, *clashing]
            )
            refs = [r for r, _, _ in self.metastatic] + [r for r, _, _ in clashing]
            latest_met = max((d or "" for _, d, _ in self.metastatic), default="")
            latest_not = max((d or "" for _, d, _ in clashing), default="")
            if self.policy == "latest" and latest_met and latest_not and latest_met > latest_not:
                self.warn(
                    f"metastatic_disease: the record disagrees ({said}); the latest says "
                    "metastatic",
                    *refs,
                    kind="settled_by_latest",
                )
            else:
                self.spread = None
                self.conflicts.append(
                    FhirConflict(
                        field="metastatic_disease",
                        message=f"the record disagrees whether the cancer has spread: {said}",
                        resources=tuple(dict.fromkeys(refs)),
                    )
                )
                self.warn(
                    "the record does not establish metastatic disease (it contradicts itself)",
                    *refs,
                    kind="not_metastatic",
                )
        self.metastasis_date = first

    def _settle_therapies(self) -> None:
        if self.unmapped:
            for label, refs in sorted(self.unmapped.items()):
                self.warn(
                    f"drug code {label} is not a drug the rules know; not read",
                    *refs,
                    kind="unmapped_drug",
                )
        if not self.medications:
            why = (
                "the record holds no medication resources"
                if self.medication_records == 0
                else f"none of the {self.medication_records} medication records is a cancer "
                "drug the rules know"
            )
            self.warn(
                f"{why}: prior_therapies left unknown (an unknown history, not an untreated "
                "patient)",
                kind="unknown_history",
            )
            return
        first = self.metastasis_date
        established = bool(self.metastatic)
        therapies: dict[tuple[str, str], _Therapy] = {}
        for medication in self.medications:
            setting = self._setting(medication, first, established)
            for agent in medication.agents:
                therapy = therapies.setdefault((agent, setting), _Therapy(agent, setting))
                therapy.refs.append(medication.ref)
                if medication.start:
                    therapy.starts.append(medication.start)
                if medication.end:
                    therapy.ends.append(medication.end)
                stamp = medication.start or ""
                if stamp >= therapy.latest:
                    therapy.latest = stamp
                    therapy.ongoing_latest = medication.ongoing
                if medication.reason:
                    therapy.reasons.add(medication.reason)
        for ref, date in self.disease_worse:
            running = [
                t
                for t in therapies.values()
                if date and t.start and t.start <= date <= (t.end or t.start)
            ]
            for therapy in running:
                therapy.progressed_by.append(ref)
            if not running:
                self.warn(
                    f"the cancer worsened ({date or 'undated'}) while no drug the record "
                    "dates was running; not tied to a treatment",
                    ref,
                )
        self._overlaps(list(therapies.values()))
        entries: list[dict[str, Any]] = []
        ordered = sorted(therapies.values(), key=lambda t: (t.start or "", t.agent))
        for therapy in ordered:
            outcome = self._outcome(therapy)
            entries.append({"agent": therapy.agent, "outcome": outcome, "setting": therapy.setting})
            self.provenance[f"prior_therapies[{len(entries) - 1}]"] = (
                therapy.refs + therapy.progressed_by
            )
        self.data["prior_therapies"] = entries
        self.provenance["prior_therapies"] = [r for t in ordered for r in t.refs + t.progressed_by]

    def _setting(self, medication: _Medication, first: str | None, established: bool) -> str:
        by_date: str | None = None
        if not established:
            by_date = "early"
        elif first and medication.start:
            by_date = "early" if medication.start < first else "metastatic"
        if medication.intent:
            if by_date and by_date != medication.intent:
                self.warn(
                    f"{medication.ref}: treatment intent says {medication.intent} but its dates "
                    f"say {by_date}; the stated intent is used",
                    medication.ref,
                )
            return medication.intent
        if by_date:
            return by_date
        self.warn(
            f"{medication.ref}: neither intent nor dates say whether the drug was given before "
            "or after the metastases; read as metastatic (the profile's default)",
            medication.ref,
            kind="assumption",
        )
        return "metastatic"

    def _outcome(self, therapy: _Therapy) -> str:
        refs = therapy.refs
        if therapy.progressed_by:
            if therapy.reasons - {"progressed"}:
                self.warn(
                    f"{therapy.agent}: the cancer worsened while it ran, but the record gives "
                    f"{', '.join(sorted(therapy.reasons))} as why it stopped; read as progressed",
                    *refs,
                    *therapy.progressed_by,
                )
            return "progressed"
        for outcome in ("progressed", "intolerant"):
            if outcome in therapy.reasons:
                return outcome
        if therapy.ongoing_latest:
            return "ongoing"
        if "completed" in therapy.reasons:
            return "completed"
        return "unknown"

    def _overlaps(self, therapies: list[_Therapy]) -> None:
        seen: set[tuple[str, str]] = set()
        for one in therapies:
            for other in therapies:
                if one.agent >= other.agent or (one.agent, other.agent) in seen:
                    continue
                cls_one = (
                    self.vocabulary[one.agent].drug_class if one.agent in self.vocabulary else None
                )
                cls_other = (
                    self.vocabulary[other.agent].drug_class
                    if other.agent in self.vocabulary
                    else None
                )
                if cls_one is None or cls_one != cls_other or cls_one in _COMBINED_CLASSES:
                    continue
                if not (one.start and other.start):
                    continue
                if one.start <= (other.end or other.start) and other.start <= (
                    one.end or one.start
                ):
                    seen.add((one.agent, other.agent))
                    self.warn(
                        f"{one.agent} and {other.agent} (both {cls_one}) are recorded as running "
                        "at the same time",
                        *one.refs,
                        *other.refs,
                        kind="drug_overlap",
                    )

    def _reading(self) -> FhirReading:
        patient_ref = self.record.patient_ref
        if patient_ref:
            self.data["patient_id"] = patient_ref.split("/", 1)[-1][:200]
        try:
            profile = PatientProfile.model_validate(
                self.data, context={"vocabulary": self.vocabulary}
            )
        except ValidationError as error:
            raise FhirReadError(
                f"the record's values do not make a valid profile: {error}"
            ) from None
        return FhirReading(
            profile=profile,
            breast_cancer=True if self.breast else (False if self.other_cancers else None),
            metastatic=self.spread,
            provenance={k: tuple(dict.fromkeys(v)) for k, v in self.provenance.items()},
            conflicts=tuple(self.conflicts),
            warnings=tuple(self.warnings),
            evidence=self._evidence(),
            drug_codes=tuple(
                FhirDrugCode(
                    system=system,
                    code=code,
                    display=display,
                    drugs=drugs,
                    read_by=how,
                    resources=tuple(dict.fromkeys(refs)),
                )
                for (system, code, display), (drugs, how, refs) in self.drug_codes.items()
            ),
        )

    def _evidence(self) -> tuple[FhirEvidence, ...]:
        items: list[FhirEvidence] = []
        for finding in self.findings:
            if finding.field == "her2_ish":
                continue  # an internal note: the same resource is already her2_status evidence
            target = "brca_status" if finding.field in ("brca1", "brca2") else finding.field
            items.append(
                FhirEvidence(
                    field=target,
                    value=str(finding.value),
                    what=finding.what,
                    resource=finding.ref,
                    date=finding.date,
                    used=target in self.data and finding.ref in self.provenance.get(target, []),
                )
            )
        dates: dict[str, str | None] = {}
        for spread, said in ((True, self.metastatic), (False, self.not_metastatic)):
            for ref, date, what in said:
                dates.setdefault(ref, date)
                items.append(
                    FhirEvidence(
                        field="metastatic_disease",
                        value="metastatic" if spread else "not metastatic",
                        what=what,
                        resource=ref,
                        date=date,
                        # An earlier "not spread" is part of the story (not de novo); the
                        # answer rests on the evidence of spread.
                        used=self.spread is spread,
                    )
                )
        for site, refs in sorted(self.sites.items()):
            for ref in dict.fromkeys(refs):
                items.append(
                    FhirEvidence(
                        field="metastatic_sites",
                        value=site,
                        what=f"secondary cancer in {site}",
                        resource=ref,
                        date=dates.get(ref),
                        used=True,
                    )
                )
        return tuple(sorted(items, key=lambda e: (e.field, e.date or "", e.resource)))


def _icd10(code: str) -> str:
    """ICD-10 codes are written with or without their dot: C7951 is C79.51."""
    match = _ICD10_UNDOTTED.match(code.upper())
    return f"{match.group(1)}.{match.group(2)}" if match else code


def _said(value: Value) -> str:
    if value.number is not None:
        return f"{value.number:g}{value.unit}"
    return value.score or value.qualitative or "?"


def _stage(concept: object) -> bool | None:
    """True for stage IV / M1, False for stage 0-III / M0, None when not understood."""
    for system, code, _ in codings(concept):
        if code in codes.STAGE_IV_VALUES or code in codes.M1_VALUES:
            return True
        if code in codes.STAGE_I_TO_III_VALUES or code in codes.M0_VALUES:
            return False
        if "cancerstaging" in system or system == "":
            said = _ajcc(code)
            if said is not None:
                return said
    return None


_STAGE_NAMED = re.compile(r"\bstage\s+(IV|4|III|II|I|0|[123])(?:[ABC]\d?)?\b", re.IGNORECASE)
_M_NAMED = re.compile(r"\b[cp]?M([01])(?:[a-d]\d?)?\b")


def _stage_named(text: str) -> bool | None:
    found = {m.group(1).upper() in ("IV", "4") for m in _STAGE_NAMED.finditer(text)}
    found |= {m.group(1) == "1" for m in _M_NAMED.finditer(text)}
    return found.pop() if len(found) == 1 else None


def _ajcc(code: str) -> bool | None:
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


def read_record(record: Record, vocabulary: Vocabulary, policy: ConflictPolicy) -> FhirReading:
    """Read one patient's resources into a profile, with provenance, conflicts and warnings."""
    return _Reader(record, vocabulary, policy).read()
