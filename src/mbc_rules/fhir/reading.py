"""What a FHIR record was read into: the profile, where each field came from, and the problems."""

from __future__ import annotations

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


class FhirWarning(BaseModel):
    """Something the reader noticed and did not read, or read with a caveat; reading went on."""

    model_config = _FROZEN

    message: str
    resources: tuple[str, ...] = Field(
        default=(), description="The resources concerned, 'Type/id'."
    )

    def __str__(self) -> str:
        where = f" [{', '.join(self.resources)}]" if self.resources else ""
        return f"{self.message}{where}"


class FhirReading(BaseModel):
    """One patient's FHIR record read into a :class:`PatientProfile`.

    ``provenance`` maps each profile field that the record gave (and each
    ``prior_therapies[i]``) to the resources it was read from. A field with no entry was not
    given by any resource and keeps its unknown default.
    """

    model_config = _FROZEN

    profile: PatientProfile
    provenance: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    conflicts: tuple[FhirConflict, ...] = ()
    warnings: tuple[FhirWarning, ...] = ()

    @property
    def problems(self) -> tuple[FhirConflict | FhirWarning, ...]:
        """Conflicts first, then warnings."""
        return (*self.conflicts, *self.warnings)
