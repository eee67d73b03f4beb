"""What a FHIR record was read into: the profile, where each field came from, and the problems."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mbc_rules.profile import PatientProfile

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class FhirConflict(BaseModel):
    """Resources that disagree about one field; the field was left unknown (or, with
    ``conflicts="latest"``, set from the latest one and the conflict reported as a warning).
    """

    model_config = _FROZEN

    field: str = Field(description="The profile field, or 'metastatic_disease'.")
    message: str
    resources: tuple[str, ...] = Field(description="The resources that disagree, 'Type/id'.")

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{', '.join(self.resources)}]"


WarningKind = Literal[
    "not_breast_cancer",
    "no_breast_cancer_diagnosis",
    "not_metastatic",
    "unknown_history",
    "unmapped_drug",
    "drug_overlap",
    "invalid_entry",
    "settled_by_latest",
    "assumption",
    "not_read",
    "other_patient",
    "drug_from_text",
]


class FhirWarning(BaseModel):
    """Something the reader noticed and did not read, or read with a caveat; reading went on.

    ``kind`` sorts warnings for programs: ``not_breast_cancer`` (a primary cancer other than
    breast cancer is recorded), ``no_breast_cancer_diagnosis``, ``not_metastatic`` (the record
    does not establish metastatic disease), ``unknown_history`` (no cancer drug read:
    prior_therapies left unknown), ``unmapped_drug``, ``drug_overlap`` (two drugs of one class
    at once), ``invalid_entry`` (an entry fails validation or repeats an id),
    ``settled_by_latest`` (a conflict settled by ``conflicts="latest"``), ``assumption`` (read
    with a stated assumption: a setting, a drug named only by text, a recurrence) and
    ``not_read`` (an element the reader could not use) and ``other_patient`` (entries about
    another patient than the record's, left out), ``drug_from_text`` (a drug code unknown,
    the drug read from the coding's display or text).
    """

    model_config = _FROZEN

    kind: WarningKind = "not_read"
    message: str
    resources: tuple[str, ...] = Field(
        default=(), description="The resources concerned, 'Type/id'."
    )

    def __str__(self) -> str:
        where = f" [{', '.join(self.resources)}]" if self.resources else ""
        return f"{self.message}{where}"


class FhirEvidence(BaseModel):
    """One statement of the record about a field, with its resource and date, and whether
    the reading used it: the record's story in time, for audit.
    """

    model_config = _FROZEN

    field: str = Field(description="The profile field, or 'metastatic_disease'.")
    value: str
    what: str = Field(description="What the resource says, as the reader understood it.")
    resource: str
    date: str | None = None
    used: bool = Field(description="Whether the reading's value of the field rests on it.")


DrugRead = Literal["code", "text", "not_read"]


class FhirDrugCode(BaseModel):
    """One drug coding of the record and what the reader understood by it, for audit."""

    model_config = _FROZEN

    system: str
    code: str
    display: str = ""
    drugs: tuple[str, ...] = Field(
        default=(), description="The vocabulary agents read; empty when not read."
    )
    read_by: DrugRead = Field(
        description="'code': the code names the drugs; 'text': the code is unknown and the "
        "display or text named them; 'not_read': neither did."
    )
    resources: tuple[str, ...] = ()


class FhirReading(BaseModel):
    """One patient's FHIR record read into a :class:`PatientProfile`.

    ``provenance`` maps each profile field that the record gave (and each
    ``prior_therapies[i]``) to the resources it was read from. A field with no entry was not
    given by any resource and keeps its unknown default.
    """

    model_config = _FROZEN

    profile: PatientProfile
    breast_cancer: bool | None = Field(
        None,
        description="True: a breast cancer diagnosis is recorded; False: another primary "
        "cancer is, and no breast cancer; None: no cancer diagnosis is recorded.",
    )
    metastatic: bool | None = Field(
        None,
        description="True: the record establishes metastatic disease (a secondary cancer, "
        "stage IV or M1, without contradiction); False: its staging says not metastatic and "
        "nothing says otherwise; None: it says neither, or contradicts itself.",
    )
    provenance: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    conflicts: tuple[FhirConflict, ...] = ()
    warnings: tuple[FhirWarning, ...] = ()
    evidence: tuple[FhirEvidence, ...] = Field(
        default=(),
        description="Every status, stage and site read, with its resource and date, oldest "
        "first, and whether the reading used it.",
    )
    drug_codes: tuple[FhirDrugCode, ...] = Field(
        default=(), description="Every drug coding read from medication records, and its drugs."
    )

    @property
    def problems(self) -> tuple[FhirConflict | FhirWarning, ...]:
        """Conflicts first, then warnings."""
        return (*self.conflicts, *self.warnings)
