"""FHIR R4 / mCODE records in: :func:`read_fhir` reads one patient's record into a
:class:`~mbc_rules.PatientProfile` with the provenance of every field, the conflicts the record
holds and what could not be read; :func:`read_fhir_many` reads many into a frame for
:func:`~mbc_rules.evaluate_frame`. See ``docs/fhir.md``.
"""

from __future__ import annotations

from mbc_rules.fhir.api import FhirFrames, read_fhir, read_fhir_many
from mbc_rules.fhir.reading import FhirConflict, FhirReading, FhirWarning

__all__ = [
    "FhirConflict",
    "FhirFrames",
    "FhirReading",
    "FhirWarning",
    "read_fhir",
    "read_fhir_many",
]
