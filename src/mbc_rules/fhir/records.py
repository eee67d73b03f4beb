"""From what the caller passed (a Bundle, JSON text, a path, a resource array) to one patient's
resources: parsing, limits, entry checks and patient selection. Nothing clinical happens here.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mbc_rules.errors import FhirReadError

# Bounds keep a hostile or runaway record cheap to refuse: a 50,000-entry bundle reads in a
# few seconds; beyond these it is refused with an error rather than read slowly.
MAX_BYTES = 256 * 1024 * 1024
MAX_ENTRIES = 200_000
# FHIR resources nest a dozen levels deep at most (a contained Medication's coding's
# extension); 64 leaves room for any real record and refuses a self-referencing object or a
# bomb of nested arrays before any walk of it can recurse without end.
MAX_DEPTH = 64
# Python objects may share one sub-object many times over (a list of the same list...), which
# no text of MAX_BYTES can spell out: the walk stops at as many nodes as such a text could hold.
MAX_NODES = MAX_BYTES // 4
# A shown value is cut to this many characters: an error must stay readable whatever it quotes.
SHOWN = 80
INVALID = "invalid_entry"
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# FHIR choice elements ("value[x]") that the reader uses; two forms at once is invalid FHIR.
_CHOICES = ("value", "effective", "onset", "medication", "abatement", "performed")
_CHOICE_KEY = re.compile(r"^(value|effective|onset|medication|abatement|performed)[A-Z]")


@dataclass(frozen=True)
class Resource:
    """One resource of the record with the reference it is known by (``Type/id``)."""

    ref: str
    type: str
    data: Mapping[str, Any]
    full_url: str | None = None


@dataclass
class Record:
    """The resources of one patient, with what was noticed on the way."""

    resources: list[Resource]
    patient: Resource | None
    patient_ref: str | None
    notes: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    by_ref: dict[str, Resource] = field(default_factory=dict)
    # Built once: a medication reference looked up by fullUrl must not scan every entry
    # (with many dangling references that made reading quadratic in the entries).
    by_full_url: dict[str, Resource] = field(default_factory=dict)


def short(value: object, limit: int = SHOWN) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages that quote input."""
    if isinstance(value, str) and len(value) > limit * 4:
        value = value[: limit * 4]  # repr of a megabyte string is itself a megabyte
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a self-referencing object; a huge integer
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse(source: object) -> tuple[list[Any], bool]:
    """The entries of ``source`` and whether they are Bundle entries (else bare resources)."""
    data: object
    what = "the input"
    if isinstance(source, Path) or (isinstance(source, str) and not _looks_like_json(source)):
        path = Path(source)
        what = str(path)
        try:
            text = _read_text(path)
        except FhirReadError:
            raise
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise FhirReadError(f"cannot read {path}: {error}") from None
        data = _loads(text, what)
    elif isinstance(source, bytes | bytearray):
        if len(source) > MAX_BYTES:
            raise FhirReadError(f"the input is over the {MAX_BYTES:,}-byte limit")
        try:
            data = _loads(bytes(source).decode("utf-8-sig"), what)
        except UnicodeDecodeError as error:
            raise FhirReadError(f"the input is not UTF-8 text: {error}") from None
    elif isinstance(source, str):
        if len(source) > MAX_BYTES:
            raise FhirReadError(f"the input is over the {MAX_BYTES:,}-byte limit")
        data = _loads(source, what)
    else:
        data = source
    check_shape(data, what)
    return _entries(data, what), isinstance(data, Mapping)


# Paths are linked (parent, step) pairs, spelt out only for an error: the walk stays cheap.
_Path = tuple[Any, str] | None


def check_shape(data: object, what: str = "the input") -> None:
    """Refuse what JSON cannot make, before any reading walks it.

    Objects passed through the Python API may hold what no JSON text can: non-string keys,
    sets, non-finite numbers, objects that contain themselves. Parsed text may nest as deep as
    the parser allows. Every later walk assumes JSON of bounded depth, so this one (iterative,
    linear in the nodes) establishes it and names where it fails.
    """
    if _plain(data):
        return  # refused by _entries as not a Bundle, with its own message
    stack: list[tuple[object, int, _Path]] = [(data, 0, None)]
    nodes = 0
    while stack:
        node, depth, path = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise FhirReadError(f"{what} holds over {MAX_NODES:,} values; not read")
        if depth > MAX_DEPTH:
            raise FhirReadError(
                f"{what} nests deeper than {MAX_DEPTH} levels at {_at(_spelt(path))} "
                "(or contains itself); not a FHIR record"
            )
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise FhirReadError(
                        f"{what}: key {short(key)} at {_at(_spelt(path))} is not a string; "
                        "JSON objects have string keys"
                    )
                if not _plain(value):
                    stack.append((value, depth + 1, (path, "." + key[:SHOWN])))
        elif isinstance(node, list | tuple):
            for index, value in enumerate(node):
                if not _plain(value):
                    stack.append((value, depth + 1, (path, f"[{index}]")))
        elif isinstance(node, float):
            raise FhirReadError(
                f"{what}: {_at(_spelt(path))} is {node!r}, which is not a JSON number"
            )
        else:
            raise FhirReadError(
                f"{what}: {_at(_spelt(path))} is a {type(node).__name__} "
                f"({short(node)}), which JSON cannot hold"
            )


def _spelt(path: _Path) -> str:
    steps: list[str] = []
    while path is not None and len(steps) <= MAX_DEPTH + 1:
        path, step = path
        steps.append(step)
    return "".join(reversed(steps)).lstrip(".")


def _at(where: str) -> str:
    if not where:
        return "the top"
    return where if len(where) <= SHOWN else where[: SHOWN - 3] + "..."


def _plain(value: object) -> bool:
    return (
        value is None
        or isinstance(value, str | bool | int)
        or (isinstance(value, float) and math.isfinite(value))
    )


def _read_text(path: Path) -> str:
    # Regular files only: a FIFO would block the reader and /dev/zero or a socket never ends.
    # The file is opened without blocking, checked by its descriptor (no race with a swap) and
    # read to at most the limit, so a file that grows while read is still bounded.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise FhirReadError(f"{path} is not a regular file; a FHIR record is read from a file")
        if status.st_size > MAX_BYTES:
            raise FhirReadError(
                f"{path}: {status.st_size:,} bytes is over the {MAX_BYTES:,}-byte limit"
            )
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise FhirReadError(f"{path} is over the {MAX_BYTES:,}-byte limit")
    return raw.decode("utf-8-sig")


def _looks_like_json(text: str) -> bool:
    head = text.lstrip()[:1]
    return head in ("{", "[") or "\n" in text or len(text) > 4096


def _loads(text: str, what: str) -> object:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise FhirReadError(
            f"{what} is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise FhirReadError(f"{what} is nested too deeply to be a FHIR record") from None
    except ValueError as error:  # e.g. an integer beyond Python's digit limit
        raise FhirReadError(f"{what} is not JSON the reader accepts: {error}") from None


def _no_constant(name: str) -> object:
    # Python's parser accepts NaN and Infinity, which JSON does not: a NaN percentage would
    # compare as neither positive nor negative and must never reach a reading.
    raise ValueError(f"{name} is not a JSON number")


def _entries(data: object, what: str) -> list[Any]:
    if isinstance(data, list | tuple):
        entries = list(data)
    elif isinstance(data, Mapping):
        kind = data.get("resourceType")
        if kind != "Bundle":
            shown = repr(kind) if kind is not None else "no resourceType"
            raise FhirReadError(
                f"{what} is not a FHIR Bundle or an array of resources (resourceType: {shown})"
            )
        raw = data.get("entry", [])
        if not isinstance(raw, list):
            raise FhirReadError(f"{what}: Bundle.entry is not an array")
        entries = raw
    else:
        raise FhirReadError(
            f"{what} is not a FHIR Bundle or an array of resources (got {type(data).__name__})"
        )
    if not entries:
        raise FhirReadError(f"{what} holds no resources")
    if len(entries) > MAX_ENTRIES:
        raise FhirReadError(
            f"{what} holds {len(entries):,} entries, over the {MAX_ENTRIES:,}-entry limit"
        )
    return entries


def collect(
    entries: Sequence[Any], *, in_bundle: bool
) -> tuple[list[Resource], list[tuple[str, str, tuple[str, ...]]]]:
    """The well-formed resources and the notes about the rest (each: kind, message, refs)."""
    resources: list[Resource] = []
    notes: list[tuple[str, str, tuple[str, ...]]] = []
    seen: dict[str, Mapping[str, Any]] = {}
    repeated: dict[str, int] = {}
    for index, entry in enumerate(entries):
        full_url = None
        resource = entry
        if in_bundle:
            if not isinstance(entry, dict):
                notes.append((INVALID, f"entry {index} is not an object; not read", ()))
                continue
            resource = entry.get("resource")
            url = entry.get("fullUrl")
            full_url = url if isinstance(url, str) else None
            search = entry.get("search")
            if isinstance(search, dict) and search.get("mode") == "outcome":
                continue  # a search's OperationOutcome, not patient data
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            notes.append(
                (INVALID, f"entry {index} holds no resource with a resourceType; not read", ())
            )
            continue
        kind = resource["resourceType"]
        raw_id = resource.get("id")
        if raw_id is None:
            ref = f"{kind}/entry-{index}"
        elif isinstance(raw_id, str) and _ID.match(raw_id):
            ref = f"{kind}/{raw_id}"
        else:
            ref = f"{kind}/entry-{index}"
            notes.append(
                (INVALID, f"entry {index}: id {str(raw_id)[:80]!r} is not a valid FHIR id", (ref,))
            )
        problem = _invalid(resource)
        if problem:
            notes.append((INVALID, f"{ref} fails validation: {problem}", (ref,)))
        if ref in seen:
            repeated[ref] = repeated.get(ref, 1) + 1
            if seen[ref] == resource:
                continue  # the very same resource twice: read once (reported below)
        else:
            seen[ref] = resource
        resources.append(Resource(ref=ref, type=kind, data=resource, full_url=full_url))
    for ref, count in repeated.items():
        notes.append(
            (
                INVALID,
                f"{ref} appears {count} times; identical copies were read once, "
                "differing ones each",
                (ref,),
            )
        )
    return resources, notes


def _invalid(resource: Mapping[str, Any]) -> str | None:
    forms: dict[str, list[str]] = {}
    for key in resource:
        match = _CHOICE_KEY.match(key) if key[:1] in "veomap" else None
        if match:
            forms.setdefault(match.group(1), []).append(key)
    for name in _CHOICES:
        if len(forms.get(name, ())) > 1:
            return f"{name}[x] is given {len(forms[name])} ways ({', '.join(forms[name])})"
    for name in ("code", "valueCodeableConcept", "medicationCodeableConcept"):
        concept = resource.get(name)
        if concept is not None and not _is_concept(concept):
            return f"{name} is not a CodeableConcept"
    return None


def _is_concept(concept: object) -> bool:
    if not isinstance(concept, dict):
        return False
    coding = concept.get("coding", [])
    return isinstance(coding, list) and all(type(c) is dict for c in coding)


def reference_key(reference: object) -> str | None:
    """``Patient/x`` for a relative or absolute reference; a ``urn:`` reference as given."""
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith("urn:"):
        return reference
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference


def patients_in(resources: list[Resource]) -> list[str]:
    """The patients of the record: its Patient resources, or, where it holds none, the
    patients its subjects name. Entries about another patient than the record's Patient
    resource (examples copied in, a common mess) do not make it a record of several patients.
    """
    _, known = _subjects(resources)
    return sorted(_of_record(resources, known))


def _of_record(resources: list[Resource], known: set[str]) -> set[str]:
    present = {r.ref for r in resources if r.type == "Patient"}
    return present or known


def _subjects(resources: list[Resource]) -> tuple[dict[str, str | None], set[str]]:
    patients = [r for r in resources if r.type == "Patient"]
    aliases: dict[str, str] = {}
    for record in patients:
        aliases[record.ref] = record.ref
        aliases["urn:uuid:" + record.ref.split("/", 1)[1]] = record.ref
        if record.full_url:
            aliases[record.full_url] = record.ref
            aliases[reference_key(record.full_url) or record.full_url] = record.ref
    subjects: dict[str, str | None] = {}
    for record in resources:
        if record.type == "Patient":
            continue
        key = reference_key(record.data.get("subject") or record.data.get("patient"))
        subjects[record.ref] = None if key is None else aliases.get(key, key)
    known = {r.ref for r in patients} | {s for s in subjects.values() if s is not None}
    return subjects, known


def select(resources: list[Resource], patient: str | None) -> Record:
    """The resources of the chosen patient (or of the record's only Patient)."""
    patients = [r for r in resources if r.type == "Patient"]
    subjects, known = _subjects(resources)
    chosen = _choose(patients, known, patient)
    by_ref = {r.ref: r for r in resources}
    by_full_url: dict[str, Resource] = {}
    for resource in resources:
        if resource.full_url:
            by_full_url.setdefault(resource.full_url, resource)
    notes: list[tuple[str, str, tuple[str, ...]]] = []
    if chosen is None:
        mine = list(resources)
    else:
        mine = [r for r in resources if r.ref == chosen or subjects.get(r.ref) == chosen]
        foreign: dict[str, list[str]] = {}
        for resource in resources:
            subject = subjects.get(resource.ref)
            if subject is not None and subject != chosen:
                foreign.setdefault(subject, []).append(resource.ref)
        if foreign:
            # Left out, and said: a reading must never quietly mix in another person's results,
            # nor quietly drop entries the user may have meant to be this patient's.
            count = sum(len(refs) for refs in foreign.values())
            others = ", ".join(sorted(foreign)[:10]) + (" ..." if len(foreign) > 10 else "")
            notes.append(
                (
                    "other_patient",
                    f"{count} entr{'y' if count == 1 else 'ies'} about another patient than "
                    f"{chosen} ({others}); left out",
                    tuple(r for refs in foreign.values() for r in refs)[:50],
                )
            )
        loose = [
            r.ref
            for r in resources
            if r.type != "Patient" and subjects.get(r.ref) is None and r.type in _CLINICAL
        ]
        if loose and len(known) > 1:
            notes.append(
                (
                    "not_read",
                    "these resources name no patient and the record holds several; not read",
                    tuple(loose[:50]),
                )
            )
        elif loose:
            mine += [by_ref[ref] for ref in loose]
    patient_resource = by_ref.get(chosen) if chosen else None
    if patient_resource is not None and patient_resource.type != "Patient":
        patient_resource = None
    return Record(
        resources=mine,
        patient=patient_resource,
        patient_ref=chosen,
        notes=notes,
        by_ref=by_ref,
        by_full_url=by_full_url,
    )


_CLINICAL = frozenset(
    {
        "Observation",
        "Condition",
        "MedicationStatement",
        "MedicationRequest",
        "MedicationAdministration",
        "DiagnosticReport",
        "Procedure",
    }
)


def _choose(patients: list[Resource], known: set[str], patient: str | None) -> str | None:
    if patient is None:
        # The Patient resources say whose record it is; only where there is none do the
        # subjects of the entries.
        present = {r.ref for r in patients} or known
        if len(present) > 1:
            listed = ", ".join(sorted(present)[:10])
            raise FhirReadError(
                f"the record holds {len(present)} patients ({listed}); "
                "choose one with patient='<id>' (command line: --patient)"
            )
        return next(iter(present), None)
    wanted = patient if "/" in patient or patient.startswith("urn:") else f"Patient/{patient}"
    if wanted in known:
        return wanted
    for record in patients:
        if record.full_url == patient or patient in _identifiers(record):
            return record.ref
    listed = ", ".join(sorted(known)[:10]) or "none"
    raise FhirReadError(f"no patient {patient!r} in the record; patients: {listed}")


def _identifiers(record: Resource) -> set[str]:
    found = set()
    identifiers = record.data.get("identifier")
    if isinstance(identifiers, list):
        for identifier in identifiers:
            if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                found.add(identifier["value"])
    return found
