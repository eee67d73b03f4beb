"""What the resources of one record gave, before any field is settled: the findings for each
profile field, the evidence of spread, the medications and the warnings noticed on the way.

Each reader (``markers``, ``disease``, ``medications``) adds to one :class:`Gathered`; the
settling steps (``settle``, ``history``) read it and write the profile's data; ``read``
assembles the reading. Nothing here reads a resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mbc_rules.fhir.reading import DrugRead, FhirConflict, FhirWarning, WarningKind
from mbc_rules.fhir.records import Record, Resource
from mbc_rules.fhir.values import when
from mbc_rules.vocabulary import Vocabulary

ConflictPolicy = Literal["report", "latest"]


@dataclass(frozen=True)
class Finding:
    """One value the record gives for a profile field, and the resources it comes from."""

    field: str
    value: Any
    ref: str
    date: str | None
    what: str


@dataclass
class Medication:
    """One medication resource read as cancer drugs given, with its dates and reasons."""

    ref: str
    agents: tuple[str, ...]
    start: str | None
    end: str | None
    ongoing: bool
    reason: str | None  # outcome named by a termination reason
    intent: str | None  # setting named by treatment intent


# (resource, date, what it says): a resource's word on whether the cancer has spread.
Said = tuple[str, str | None, str]


class Gathered:
    """The findings, evidence and warnings of one record, and the profile data settled so far."""

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
        self.metastatic: list[Said] = []
        self.not_metastatic: list[Said] = []
        self.breast: list[str] = []
        self.other_cancers: list[str] = []
        self.her2_equivocal: list[str] = []
        self.disease_worse: list[tuple[str, str | None]] = []
        self.medications: list[Medication] = []
        self.medication_records = 0
        self.unmapped: dict[str, list[str]] = {}
        # (system, code, display) -> (drugs, how read, resources): the audit table.
        self.drug_codes: dict[
            tuple[str, str, str], tuple[tuple[str, ...], DrugRead, list[str]]
        ] = {}
        self.metastasis_date: str | None = None
        self.spread: bool | None = None

    def warn(self, message: str, *refs: str, kind: WarningKind = "not_read") -> None:
        """Note something not read, or read with a caveat."""
        self.warnings.append(
            FhirWarning(kind=kind, message=message, resources=tuple(dict.fromkeys(refs)))
        )

    def find(self, field_name: str, value: Any, resource: Resource, what: str) -> None:
        """Note a value the resource gives for a profile field."""
        self.findings.append(Finding(field_name, value, resource.ref, when(resource.data), what))
