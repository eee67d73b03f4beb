"""The patient profile: the one input of an evaluation.

Field names and values are the public contract (applications and the JSON Schema depend on
them). Every status defaults to ``unknown`` and no rule reads ``unknown`` as negative.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from mbc_rules.bundled import bundled_vocabulary
from mbc_rules.vocabulary import (
    BrainMetastases,
    Complication,
    MenopausalStatus,
    Outcome,
    Setting,
    Sex,
    Site,
    Status,
    Vocabulary,
)

# Bounds keep hostile or mistaken input (a pasted document, a runaway list) cheap to reject.
MAX_TEXT = 200
MAX_PRIOR_THERAPIES = 100


# Validation context key: the data is a profile as stored in a result, its agents already ids.
STORED = "stored_profile"


def _vocabulary(info: ValidationInfo) -> Vocabulary:
    # A rulebase passes its own vocabulary; a profile built on its own reads drug names with
    # the bundled one.
    context = info.context
    if isinstance(context, dict) and isinstance(context.get("vocabulary"), Vocabulary):
        vocabulary: Vocabulary = context["vocabulary"]
        return vocabulary
    return bundled_vocabulary()


# Spellings of the closed values that clinical data commonly uses, read in any case and with
# surrounding spaces ignored. Anything else is an error that shows the value given.
STATUS_SPELLINGS: dict[str, str] = {
    "positive": "positive",
    "pos": "positive",
    "+": "positive",
    "negative": "negative",
    "neg": "negative",
    "-": "negative",
    "unknown": "unknown",
}
MENOPAUSAL_SPELLINGS: dict[str, str] = {
    "premenopausal": "premenopausal",
    "pre-menopausal": "premenopausal",
    "postmenopausal": "postmenopausal",
    "post-menopausal": "postmenopausal",
    "unknown": "unknown",
}
SEX_SPELLINGS: dict[str, str] = {
    "female": "female",
    "f": "female",
    "male": "male",
    "m": "male",
    "unknown": "unknown",
}
# Fields that a model-level check reads together (the others are checked one by one): the
# columnar cohort reader validates each group's distinct combinations at once.
CHECKED_TOGETHER: tuple[tuple[str, ...], ...] = (
    ("sex", "menopausal_status"),
    ("metastatic_sites", "resectable_sites"),
)


def _spelling(value: Any, spellings: dict[str, str], what: str) -> Any:
    found = None
    if isinstance(value, str):
        found = spellings.get(value) or spellings.get(value.strip().lower())
    if found is None:
        canonical = list(dict.fromkeys(spellings.values()))
        others = [s for s in spellings if s not in canonical]
        also = f"; also {', '.join(others)}" if others else ""
        raise ValueError(
            f"{_shown(value)} is not a {what} ({', '.join(canonical)}{also}; in any case)"
        )
    return found


_MODEL_CONFIG = ConfigDict(
    extra="forbid",
    frozen=True,
    strict=True,
    str_max_length=MAX_TEXT,
    validate_default=False,
    # A model built without validation (``model_construct``) and nested in a mapping is read
    # again like any other input: it may carry a brand name or an impossible value.
    revalidate_instances="always",
)


# The profile's test results: each positive, negative or unknown.
TEST_RESULT_FIELDS = (
    "er_status",
    "pr_status",
    "her2_status",
    "brca_status",
    "pik3ca_status",
    "pdl1_status",
)


class PriorTherapy(BaseModel):
    """A treatment already given, and how it ended."""

    model_config = _MODEL_CONFIG

    agent: str = Field(
        description="Generic or brand name of the drug or procedure, in any case; stored as "
        "the vocabulary id (e.g. 'Femara' is read as 'letrozole')."
    )
    outcome: Outcome = Field(
        "unknown",
        description="ongoing, progressed (the cancer grew on it), completed, intolerant, unknown.",
    )
    setting: Setting = Field(
        "metastatic", description="metastatic (the default) or early (before metastasis)."
    )
    line: Annotated[int, Field(ge=1, le=50)] | None = Field(
        None,
        description="Line of metastatic treatment it belonged to; drugs given together share "
        "a line. When absent, each progressed entry counts as a line of its own.",
    )

    @field_validator("agent")
    @classmethod
    def _known_agent(cls, name: str, info: ValidationInfo) -> str:
        context = info.context
        if isinstance(context, dict) and context.get(STORED):
            # A profile stored in a result holds the ids of the vocabulary that read it, which
            # may be a rule set's own: reading them again with another vocabulary could turn a
            # local 'arimidex' into the bundled 'anastrozole'. They are kept as written;
            # ``Rulebase.verify`` checks them against a vocabulary.
            if not name.strip():
                raise ValueError("an agent id may not be empty")
            return name
        return _vocabulary(info).resolve(name).id


def _no_duplicates(values: list[Any], what: str) -> list[Any]:
    if len(set(values)) == len(values):
        return values
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {_shown(value)} is listed twice")
        seen.add(value)
    return values


class PatientProfile(BaseModel):
    """What is known of one patient with metastatic breast cancer.

    Accepts a plain mapping (``PatientProfile.model_validate(d)``) or keyword arguments. A
    misspelt field or an impossible value raises :class:`pydantic.ValidationError` naming it.
    """

    model_config = _MODEL_CONFIG

    patient_id: str | None = Field(None, description="An identifier of the caller's choosing.")
    sex: Sex = Field("unknown", description="The sources were written mainly for women.")
    er_status: Status = Field("unknown", description="Estrogen receptor status.")
    pr_status: Status = Field("unknown", description="Progesterone receptor status.")
    her2_status: Status = Field("unknown", description="HER2 status.")
    brca_status: Status = Field(
        "unknown", description="Germline (inherited) BRCA1 or BRCA2 mutation: positive = present."
    )
    pik3ca_status: Status = Field(
        "unknown", description="PIK3CA mutation in the tumour: positive = present."
    )
    pdl1_status: Status = Field(
        "unknown", description="PD-L1 made by the tumour: positive = present."
    )
    menopausal_status: MenopausalStatus = Field(
        "unknown", description="Leave unknown for a male patient."
    )
    metastatic_sites: Annotated[list[Site], Field(max_length=20)] = Field(
        default_factory=list, description="Where the cancer has spread (distant sites)."
    )
    complications: Annotated[list[Complication], Field(max_length=20)] | None = Field(
        None,
        description="Problems the spread causes; [] when there are none, null (or omitted) "
        "when not known. An answer that assumes none says so.",
    )
    brain_metastases: BrainMetastases = Field(
        "unknown",
        description="few (few, or one large pressing on the tissue around it), multiple, "
        "multiple_large, or unknown.",
    )
    resectable_sites: Annotated[list[Site], Field(max_length=20)] = Field(
        default_factory=list, description="Metastatic sites judged operable."
    )
    widespread_bone_metastases: bool | None = Field(
        None, description="The cancer has spread to bones throughout the body; null when unknown."
    )
    de_novo: bool | None = Field(
        None, description="Metastatic at first diagnosis of breast cancer; null when unknown."
    )
    good_general_health: bool | None = Field(
        None, description="Otherwise in good general health; null when unknown."
    )
    prior_therapies: Annotated[list[PriorTherapy], Field(max_length=MAX_PRIOR_THERAPIES)] | None = (
        Field(
            None,
            description="Treatments already given; [] when there were none, null (or omitted) when "
            "the history is not known. Unknown history is not 'no history': an answer that assumes "
            "no earlier treatment says so.",
        )
    )

    @field_validator(*TEST_RESULT_FIELDS, mode="before")
    @classmethod
    def _status_spelling(cls, value: Any) -> Any:
        return _spelling(value, STATUS_SPELLINGS, "status")

    @field_validator("menopausal_status", mode="before")
    @classmethod
    def _menopausal_spelling(cls, value: Any) -> Any:
        return _spelling(value, MENOPAUSAL_SPELLINGS, "menopausal status")

    @field_validator("sex", mode="before")
    @classmethod
    def _sex_spelling(cls, value: Any) -> Any:
        return _spelling(value, SEX_SPELLINGS, "sex")

    @field_validator("metastatic_sites", "resectable_sites")
    @classmethod
    def _distinct_sites(cls, sites: list[str]) -> list[str]:
        return _no_duplicates(sites, "site")

    @field_validator("complications")
    @classmethod
    def _distinct_complications(cls, complications: list[str] | None) -> list[str] | None:
        return None if complications is None else _no_duplicates(complications, "complication")

    @field_validator("prior_therapies")
    @classmethod
    def _consistent_history(cls, therapies: list[PriorTherapy] | None) -> list[PriorTherapy] | None:
        if therapies is None:
            return None
        if len({t.agent for t in therapies}) == len(therapies):
            return therapies  # each agent once: nothing can repeat or contradict
        _no_duplicates([(t.agent, t.outcome, t.setting) for t in therapies], "prior therapy")
        outcomes: dict[tuple[str, str], set[str]] = {}
        for therapy in therapies:
            outcomes.setdefault((therapy.agent, therapy.setting), set()).add(therapy.outcome)
        for (agent, setting), seen in outcomes.items():
            if "ongoing" in seen and len(seen - {"ongoing", "unknown"}) > 0:
                stopped = sorted(seen - {"ongoing", "unknown"})
                raise ValueError(
                    f"{agent} ({setting}) is listed both as ongoing and as {', '.join(stopped)}"
                )
        return therapies

    @model_validator(mode="after")
    def _consistent(self) -> PatientProfile:
        if self.sex == "male" and self.menopausal_status != "unknown":
            raise ValueError("menopausal_status is given for a male patient; leave it unknown")
        not_spread = sorted(set(self.resectable_sites) - set(self.metastatic_sites))
        if not_spread:
            raise ValueError(
                f"resectable_sites names {', '.join(not_spread)}, not in metastatic_sites"
            )
        return self


_QUOTED = re.compile(r"'([^']*)'")
_SPELLED: dict[str, dict[str, str]] = {
    **{field: STATUS_SPELLINGS for field in TEST_RESULT_FIELDS},
    "menopausal_status": MENOPAUSAL_SPELLINGS,
    "sex": SEX_SPELLINGS,
}


def _suggestion(error: ErrorDetails) -> str:
    # A misspelt field or value gets the nearest name the profile accepts.
    loc = error["loc"]
    if error["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
        model = PriorTherapy if "prior_therapies" in loc[:-1] else PatientProfile
        names = list(model.model_fields)
        close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
        return f" (did you mean {close[0]!r}?)" if close else ""
    spelled = _SPELLED.get(str(loc[-1])) if loc else None
    if error["type"] == "value_error" and spelled and isinstance(error.get("input"), str):
        expected = list(dict.fromkeys(spelled.values()))
        given = str(error["input"]).strip().lower()
        close = difflib.get_close_matches(given, expected, n=1, cutoff=0.6)
        return f" (did you mean {close[0]!r}?)" if close else ""
    if error["type"] == "literal_error" and isinstance(error.get("input"), str):
        expected = _QUOTED.findall(str(error.get("ctx", {}).get("expected", "")))
        close = difflib.get_close_matches(str(error["input"]).lower(), expected, n=1, cutoff=0.6)
        return f" (did you mean {close[0]!r}?)" if close else ""
    return ""


def _shown(value: object) -> str:
    # Cut before repr: the repr of a megabyte string is a megabyte, and an error must stay
    # readable whatever it quotes.
    if isinstance(value, str | bytes) and len(value) > 240:
        value = value[:240]
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a self-referencing value; an integer too long
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem of an invalid profile: the field's path, the message, the value
    given and, for a misspelt field or value, the nearest accepted name.
    """
    lines = []
    for detail in error.errors():
        where = ".".join(str(p) for p in detail["loc"]) or "(profile)"
        given = ""
        if detail["type"] not in ("extra_forbidden", "missing") and detail["loc"]:
            given = f"; got {_shown(detail.get('input'))}"
        lines.append(f"{where}: {detail['msg']}{given}{_suggestion(detail)}")
    return lines
