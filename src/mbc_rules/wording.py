"""Plain words for the reader of an answer: names, statuses, facts and the patient in one line.

Everything a person reads (the text table, the Markdown report, the notebook view and the
explanations) takes its words from here, so a drug, a status or a fact is called the same
thing everywhere. Rule vocabulary (``lines_failed ≤ 0``) never reaches the reader: each fact
is said as the sources would say it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from mbc_rules.facts import FACTS, FactValue
from mbc_rules.result import AgentName, AgreementCondition, Names, SourceName

if TYPE_CHECKING:
    from mbc_rules.conditions import Reading, Trace
    from mbc_rules.facts import PriorUse
    from mbc_rules.profile import PatientProfile, PriorTherapy
    from mbc_rules.schema import Source
    from mbc_rules.vocabulary import Agent, Vocabulary

CATEGORY_NAMES: dict[str, str] = {
    "hormone_therapy": "hormone therapy",
    "targeted_therapy": "targeted therapy",
    "immunotherapy": "immunotherapy",
    "chemotherapy": "chemotherapy",
    "radiation_therapy": "radiation therapy",
    "surgery": "surgery",
    "bone_modifying_therapy": "bone-modifying therapy",
    "palliative_care": "palliative care",
    "complementary_therapy": "complementary therapy",
    "clinical_trial": "clinical trial",
}

TIER_WORDS: dict[str, str] = {
    "preferred": "preferred: the sources' first or usual choice",
    "option": "an option the sources name",
    "situational": "for some patients or situations",
}

STATUS_LABELS: dict[str, str] = {
    "er_status": "ER",
    "pr_status": "PR",
    "her2_status": "HER2",
    "brca_status": "germline BRCA1/2 mutation",
    "pik3ca_status": "PIK3CA mutation",
    "pdl1_status": "PD-L1",
    "menopausal_status": "menopausal status",
}


def category_name(category: str | None) -> str:
    """'hormone therapy' for ``hormone_therapy``."""
    if category is None:
        return "(no category)"
    return CATEGORY_NAMES.get(category, category.replace("_", " "))


# Initialisms read letter by letter whose first letter sounds like a vowel ("an mTOR inhibitor").
_AN_INITIALISMS = ("mTOR", "LHRH", "FDA", "MRI", "NSAID", "RANKL")


# Classes named as a kind of treatment read without an article ("with hormone therapy").
_MASS_NOUNS = ("therapy", "suppression", "chemotherapy", "care", "radiation")


def _plural(word: str) -> bool:
    # "antidepressants", "anti-nausea drugs"; not "class", "virus" or "metastasis".
    return word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _article(noun: str) -> str:
    last = noun.split()[-1].lower()
    if last in _MASS_NOUNS or _plural(last):
        return noun
    vowel = noun[:1].lower() in "aeiou" or noun.startswith(_AN_INITIALISMS)
    return f"an {noun}" if vowel else f"a {noun}"


def agent_name(agent_id: str, vocabulary: Vocabulary | None) -> str:
    """The vocabulary's name; a class placeholder reads as a class ('a CDK4/6 inhibitor')."""
    agent = vocabulary.agents.get(agent_id) if vocabulary is not None else None
    if agent is None:
        return agent_id.replace("_", " ")
    if agent.kind == "therapy_class":
        return _article(agent.name)
    return agent.name


def source_name(source: Source) -> SourceName:
    """A source as a result carries it: publisher, short name and dates in words."""
    return SourceName(
        id=source.id,
        publisher=source.publisher,
        short_name=source.short_name or source.id.upper(),
        dates=tuple(f"{kind.replace('_', ' ')} {day}" for kind, day in source.dates.items()),
    )


def result_names(
    vocabulary: Vocabulary, sources: Mapping[str, Source], agent_ids: Iterable[str]
) -> Names:
    """The names a result carries: each of ``agent_ids`` (once, by id: the same answer
    names the same whatever order its history was given in) and every source of the rulebase.
    """
    return Names(
        agents=tuple(
            AgentName(id=agent_id, name=agent_name(agent_id, vocabulary))
            for agent_id in sorted(set(agent_ids))
        ),
        sources=tuple(source_name(source) for source in sources.values()),
    )


def regimen_words(agent_ids: Sequence[str], vocabulary: Vocabulary | None) -> str:
    """'alpelisib with fulvestrant', 'palbociclib with an aromatase inhibitor', 'pertuzumab
    with chemotherapy and trastuzumab'. A class placeholder after a drug of that class reads as
    another of it: ACS gives trastuzumab "with other anti-HER2 drugs", so [trastuzumab,
    anti-HER2 therapy] reads 'trastuzumab with another HER2-targeted drug'.
    """
    return regimen_of(
        [
            _another(agent_id, agent_ids[:i], vocabulary) or agent_name(agent_id, vocabulary)
            for i, agent_id in enumerate(agent_ids)
        ]
    )


def regimen_of(said: Sequence[str]) -> str:
    """A regimen of its agents in words: 'alpelisib with fulvestrant', 'pertuzumab with
    chemotherapy and trastuzumab'; '' for none.
    """
    return said[0] + (" with " + join_and(said[1:]) if len(said) > 1 else "") if said else ""


def in_general(category_words: str) -> str:
    """'chemotherapy in general': what the sources say of a category, naming no drug of it."""
    return f"{category_words} in general"


def _another(agent_id: str, earlier: Sequence[str], vocabulary: Vocabulary | None) -> str | None:
    agent = vocabulary.agents.get(agent_id) if vocabulary is not None else None
    if vocabulary is None or agent is None or agent.kind != "therapy_class":
        return None
    drug_class = agent.drug_class
    if drug_class is None:
        return None
    for other_id in earlier:
        other = vocabulary.agents.get(other_id)
        if other is not None and other.kind != "therapy_class" and other.is_in(drug_class):
            return f"another {vocabulary.class_name(drug_class)}"
    return None


def agent_names(agent_ids: Sequence[str], vocabulary: Vocabulary | None) -> str:
    """'letrozole, anastrozole and exemestane'."""
    return join_and([agent_name(a, vocabulary) for a in agent_ids])


def join_and(items: Sequence[str], word: str = "and") -> str:
    """'a, b and c' (or 'a, b or c')."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def class_of(agent: Agent, vocabulary: Vocabulary | None) -> str | None:
    """'an aromatase inhibitor' for letrozole, when the vocabulary names the class."""
    if agent.drug_class is None or agent.kind == "therapy_class":
        return None
    if vocabulary is not None:
        return _article(vocabulary.class_name(agent.drug_class))
    return _article(agent.drug_class.replace("_", " "))


def agent_with_class(agent_id: str, vocabulary: Vocabulary | None) -> str:
    """'letrozole, an aromatase inhibitor'."""
    name = agent_name(agent_id, vocabulary)
    agent = vocabulary.agents.get(agent_id) if vocabulary is not None else None
    kind = class_of(agent, vocabulary) if agent is not None else None
    return named_with_class(name, kind)


def named_with_class(name: str, kind: str | None) -> str:
    """'letrozole, a non-steroidal aromatase inhibitor' (``kind``: the class in words, or None
    for the name alone).
    """
    return f"{name}, {kind}" if kind else name


# --- the patient in one line -------------------------------------------------------------------


def _status(label: str, value: str) -> str:
    return f"{label} {value}"


def setting_words(setting: str) -> str:
    """When a treatment was given: 'before metastasis' (early) or 'for metastatic disease'."""
    return "before metastasis" if setting == "early" else "for metastatic disease"


def therapy_words(therapy: PriorTherapy, names: Names) -> str:
    """'letrozole (progressed, metastatic line 1)'."""
    details: list[str] = [therapy.outcome if therapy.outcome != "unknown" else "outcome unknown"]
    details.append(setting_words(therapy.setting))
    if therapy.line is not None:
        details.append(f"line {therapy.line}")
    return f"{names.agent(therapy.agent)} ({', '.join(details)})"


def patient_facts(profile: PatientProfile, names: Names) -> list[tuple[str, str]]:
    """The facts that decide an answer, as (label, words) pairs, in the order a clinician
    reads them: receptors, menopause, where it has spread, what was given and how it ended.
    ``names`` names the drugs (a result's ``names``).
    """
    receptors = ", ".join(
        _status(STATUS_LABELS[s], getattr(profile, s))
        for s in ("er_status", "pr_status", "her2_status")
    )
    markers = ", ".join(
        _status(STATUS_LABELS[s], getattr(profile, s))
        for s in ("brca_status", "pik3ca_status", "pdl1_status")
    )
    rows = [("receptors", receptors), ("markers", markers)]
    if profile.sex != "female":
        rows.append(("sex", profile.sex))
    if profile.sex != "male":
        rows.append(("menopause", profile.menopausal_status))
    sites = [s.replace("_", " ") for s in profile.metastatic_sites]
    if profile.brain_metastases != "unknown":
        sites.append(f"brain metastases: {profile.brain_metastases.replace('_', ' ')}")
    rows.append(("spread to", ", ".join(sites) or "no site given"))
    complications: Sequence[str] | None = getattr(profile, "complications", ())
    if complications is None:
        rows.append(("complications", "not given"))
    elif complications:
        rows.append(("complications", ", ".join(c.replace("_", " ") for c in complications)))
    therapies: Sequence[PriorTherapy] | None = getattr(profile, "prior_therapies", ())
    if therapies is None:  # an unknown history is not "no history"
        rows.append(("treatment history", "not given"))
        return rows
    progressed = [t for t in therapies if t.outcome == "progressed"]
    other = [t for t in therapies if t.outcome != "progressed"]
    rows.append(
        (
            "progressed on",
            "; ".join(therapy_words(t, names) for t in progressed) or "nothing reported",
        )
    )
    if other:
        rows.append(("other treatment", "; ".join(therapy_words(t, names) for t in other)))
    return rows


def patient_line(profile: PatientProfile, names: Names) -> str:
    """The patient in one line: id, receptors, menopause, sites, what progressed."""
    who = f"Patient {profile.patient_id}" if profile.patient_id else "Patient (no id)"
    return who + ": " + "; ".join(f"{k} {v}" for k, v in patient_facts(profile, names))


# --- facts in words ----------------------------------------------------------------------------

_STATUS_PHRASES: dict[str, dict[str, str]] = {
    # YSC's three cases: "few brain metastases, or one large metastasis pressing on the tissue
    # around it"; "multiple brain metastases, especially large ones".
    "brain_metastases": {
        "few": "few brain metastases (or one large one pressing on the tissue around it)",
        "multiple": "multiple brain metastases",
        "multiple_large": "multiple large brain metastases",
        "unknown": "brain metastases not described",
    },
    "hormone_receptor_status": {
        "positive": "hormone receptor positive (ER or PR positive)",
        "negative": "hormone receptor negative (ER and PR negative)",
        "unknown": "hormone receptor status not known",
    },
    "triple_negative": {
        "yes": "triple negative (ER, PR and HER2 negative)",
        "no": "not triple negative",
        "unknown": "triple negative status not known",
    },
    "menopausal_status": {
        "premenopausal": "before menopause",
        "postmenopausal": "after menopause",
        "unknown": "menopausal status not known",
    },
    "bone_or_soft_tissue_only": {
        "yes": "spread only to bone or soft tissue",
        "no": "spread beyond bone and soft tissue",
        "unknown": "where the cancer has spread is not given",
    },
    "brca_status": {
        "positive": "a germline BRCA1/2 mutation",
        "negative": "no germline BRCA1/2 mutation",
        "unknown": "BRCA1/2 status not known",
    },
    "pik3ca_status": {
        "positive": "a PIK3CA mutation in the tumour",
        "negative": "no PIK3CA mutation",
        "unknown": "PIK3CA status not known",
    },
    "pdl1_status": {
        "positive": "PD-L1 positive",
        "negative": "PD-L1 negative",
        "unknown": "PD-L1 status not known",
    },
    "sex": {"female": "female", "male": "male", "unknown": "sex not given"},
    "de_novo": {
        "yes": "metastatic at first diagnosis",
        "no": "not metastatic at first diagnosis",
        "unknown": "not known whether metastatic at first diagnosis",
    },
    "good_general_health": {
        "yes": "otherwise in good general health",
        "no": "not otherwise in good general health",
        "unknown": "general health not given",
    },
}

# Flags read from the treatment history: what the therapies have in common, and whether the
# cancer had to grow on them (True) or they only had to be given (False).
_HISTORY: dict[str, tuple[str, bool, Callable[[Agent], bool]]] = {
    "treatment_failed": ("a treatment", True, lambda a: True),
    "any_prior_therapy": ("any treatment", False, lambda a: True),
    "her2_therapy_failed": ("a HER2-targeted drug", True, lambda a: a.is_her2_targeted),
    "trastuzumab_failed": ("trastuzumab", True, lambda a: a.id == "trastuzumab"),
    "endocrine_therapy_given": ("a hormone therapy", False, lambda a: a.is_endocrine),
    "endocrine_therapy_failed": ("a hormone therapy", True, lambda a: a.is_endocrine),
    "tamoxifen_given": ("tamoxifen", False, lambda a: a.id == "tamoxifen"),
    "aromatase_inhibitor_failed": (
        "an aromatase inhibitor",
        True,
        lambda a: a.is_in("aromatase_inhibitor"),
    ),
    "letrozole_or_anastrozole_failed": (
        "letrozole or anastrozole",
        True,
        lambda a: a.is_in("nonsteroidal_aromatase_inhibitor"),
    ),
    "chemotherapy_given": ("a chemotherapy drug", False, lambda a: a.is_chemotherapy),
    "chemotherapy_failed": ("a chemotherapy drug", True, lambda a: a.is_chemotherapy),
}

# Counts: how a number of them reads ({n} and a plural {s}), and how none reads.
_COUNTS: dict[str, tuple[str, str]] = {
    "lines_failed": (
        "the cancer has grown on {n} line{s} of treatment for metastatic disease",
        "no line of treatment for metastatic disease has failed yet",
    ),
    "her2_targeted_drugs_given": (
        "{n} HER2-targeted drug{s} given",
        "no HER2-targeted drug given",
    ),
    "chemotherapy_drugs_given": ("{n} chemotherapy drug{s} given", "no chemotherapy drug given"),
    "endocrine_classes_failed": (
        "the cancer has grown on {n} kind{s} of hormone therapy",
        "the cancer has not grown on any hormone therapy",
    ),
}


def _count(fact: str, number: str, plural: bool) -> str:
    template = _COUNTS.get(fact, (fact.replace("_", " ") + ": {n}", ""))[0]
    return template.format(n=number, s="s" if plural else "")


def _site_or_complication(fact: str, value: bool) -> str | None:
    if fact.startswith("spread_to_"):
        where = fact.removeprefix("spread_to_").replace("_", " ")
        where = "an organ (liver, lung, brain, pleura, pericardium)" if where == "organs" else where
        return f"spread to {where}" if value else f"no spread to {where} reported"
    if fact == "widespread_bone_metastases":
        return "spread to bones throughout the body" if value else "bone spread not widespread"
    definition = FACTS.get(fact)
    if definition is not None and definition.reads == ("complications",):
        name = fact.replace("_", " ")
        return f"{name} reported" if value else f"no {name} reported"
    return None


def _status_phrase(fact: str, value: str) -> str:
    phrases = _STATUS_PHRASES.get(fact)
    if phrases is not None and value in phrases:
        return phrases[value]
    if fact in STATUS_LABELS:
        return (
            f"{STATUS_LABELS[fact]} {value}"
            if value != "unknown"
            else (f"{STATUS_LABELS[fact]} not known")
        )
    if fact.endswith("_resectable"):
        site = fact.removesuffix("_resectable").replace("_", " ")
        return {
            "yes": f"{site} metastases judged operable",
            "no": f"{site} metastases not judged operable",
        }.get(value, f"not known whether {site} metastases are operable")
    if fact == "brain_metastases":
        return (
            "brain metastases not described"
            if value == "unknown"
            else (f"brain metastases: {value.replace('_', ' ')}")
        )
    return f"{fact.replace('_', ' ')}: {value}"


def _count_phrase(fact: str, low: int | None, high: int | None) -> str:
    none = _COUNTS.get(fact, ("", f"no {fact.replace('_', ' ')}"))[1]
    if high is not None and high <= 0:
        return none
    if low is not None and high is None:
        return _count(fact, f"at least {low}", low != 1)
    if high is not None and low is None:
        return _count(fact, f"at most {high}", high != 1)
    return _count(fact, f"{low} to {high}", True)


def requirement(fact: str, operator: str, expected: object) -> str:
    """What a condition asks, in words: 'after menopause', 'no hormone therapy has failed'."""
    definition = FACTS.get(fact)
    kind = definition.kind if definition is not None else "status"
    if kind == "count" and isinstance(expected, int):
        if operator == "at_least":
            return _count_phrase(fact, expected, None)
        if operator == "at_most":
            return _count_phrase(fact, None, expected)
        if expected == 0 and operator == "equals":
            return _count_phrase(fact, None, 0)
        said = _count(fact, f"exactly {expected}", expected != 1)
        return said if operator == "equals" else f"not {said}"
    if kind == "flag" and isinstance(expected, bool):
        wanted = expected if operator == "equals" else not expected
        return flag_phrase(fact, wanted)
    values = definition.values if definition is not None else ()
    if operator == "not_equals" and values:
        # "not unknown" reads better as what it leaves: "ER positive or ER negative".
        return requirement(fact, "in", tuple(v for v in values if v != expected))
    if operator == "not_in" and values and isinstance(expected, list | tuple):
        return requirement(fact, "in", tuple(v for v in values if v not in expected))
    if operator in ("in", "not_in") and isinstance(expected, list | tuple):
        phrases = [_status_phrase(fact, str(v)) for v in expected]
        said = join_and(phrases, "or")
        return said if operator == "in" else f"neither {join_and(phrases, 'nor')}"
    if operator == "not_equals":
        return f"not {_status_phrase(fact, str(expected))}"
    return _status_phrase(fact, str(expected))


def flag_phrase(fact: str, value: bool) -> str:
    """A true or false flag in words."""
    history = _HISTORY.get(fact)
    if history is not None:
        what, grew, _ = history
        if grew:
            return grew_on(what) if value else f"the cancer has not grown on {what}"
        bare = what.removeprefix("any ").removeprefix("a ").removeprefix("an ")
        return f"{what} was given" if value else f"no {bare} given"
    said = _site_or_complication(fact, value)
    if said is not None:
        return said
    definition = FACTS.get(fact)
    description = definition.description.split(" (")[0].rstrip(".") if definition else fact
    return description[:1].lower() + description[1:] if value else f"not so: {description}"


def state(
    fact: str, actual: FactValue, profile: PatientProfile | None, vocabulary: Vocabulary | None
) -> str:
    """What this patient's record says about ``fact``, naming the drugs where the history
    decides it: 'the cancer grew on letrozole, an aromatase inhibitor'.
    """
    definition = FACTS.get(fact)
    kind = definition.kind if definition is not None else "status"
    history = _HISTORY.get(fact)
    if history is not None and actual is True and profile is not None and vocabulary is not None:
        _, grew, belongs = history
        named = [
            t.agent
            for t in (profile.prior_therapies or ())
            if t.agent in vocabulary.agents
            and belongs(vocabulary[t.agent])
            and (t.outcome == "progressed" or not grew)
        ]
        named = list(dict.fromkeys(named))
        if named:
            drugs = join_and([agent_with_class(a, vocabulary) for a in named])
            return grew_on(drugs) if grew else f"{drugs} was given"
    if kind == "flag" and isinstance(actual, bool):
        return flag_phrase(fact, actual)
    if kind == "count" and isinstance(actual, int) and not isinstance(actual, bool):
        return _count(fact, str(actual), actual != 1) if actual else _count_phrase(fact, None, 0)
    return _status_phrase(fact, str(actual))


# --- conditions in words -----------------------------------------------------------------------


def reading_words(
    reading: Reading, profile: PatientProfile | None, vocabulary: Vocabulary | None
) -> str:
    """One fact test as it reads for this patient: 'after menopause (this patient: before
    menopause)'; a test that passed is said without the patient's side.
    """
    need = requirement(reading.fact, reading.operator, reading.operand)
    if reading.held:
        return need
    return f"{need} (this patient: {state(reading.fact, reading.actual, profile, vocabulary)})"


def needs_words(node: Trace, profile: PatientProfile | None, vocabulary: Vocabulary | None) -> str:
    """What would have to hold for a failing condition, in words: every failing part of an
    ``all`` ("and"), every alternative of an ``any`` ("or"). ``node`` is read with
    :func:`mbc_rules.conditions.read` (no ``not`` left).
    """
    if node.test is not None:
        return reading_words(node.test, profile, vocabulary)
    if node.kind == "never":
        return "a condition no profile meets"
    if node.kind == "all":
        parts = [p for p in node.parts if not p.held]
        said = [_grouped(p, needs_words(p, profile, vocabulary)) for p in parts]
        return join_and(said)
    said = [_grouped(p, needs_words(p, profile, vocabulary)) for p in node.parts]
    return "either " + join_and(said, "or") if len(said) > 1 else "".join(said)


def met_words(node: Trace) -> str:
    """Why a condition holds, in words: the tests that made it hold, joined with "and"; for
    an ``any``, the alternative that held. ``node`` is read (no ``not`` left).
    """
    if node.test is not None:
        return requirement(node.test.fact, node.test.operator, node.test.operand)
    if node.kind == "any":
        first = next((p for p in node.parts if p.held), None)
        return met_words(first) if first is not None else ""
    said = [_grouped(p, met_words(p)) for p in node.parts if p.held]
    return join_and([s for s in said if s])


def _grouped(node: Trace, said: str) -> str:
    # A nested group of several tests is bracketed so that "and" and "or" do not run together.
    return f"({said})" if node.test is None and len(node.parts) > 1 else said


# --- conditions in the rules' terms --------------------------------------------------------------

# How each operator of the condition language is written in a fact test as results and
# explanations carry it ("pik3ca_status = positive", "lines_failed ≤ 0").
OPERATOR_SYMBOLS: dict[str, str] = {
    "equals": "=",
    "not_equals": "≠",
    "in": "in",
    "not_in": "not in",
    "at_least": "≥",
    "at_most": "≤",
}

# A condition that tests no fact reads as itself; "never" is "always" under a "not".
UNTESTED_WORDS: dict[str, str] = {
    "always": "always (every patient)",
    "never": "never (no patient)",
}


def value_text(value: object) -> str:
    """A fact's value as a fact test writes it: ``true``, ``positive``, ``[few, multiple]``."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fact_test_text(fact: str, operator: str, operand: object) -> str:
    """A fact test in the rules' terms: ``pik3ca_status = positive``; read back by
    :func:`read_fact_test_text`.
    """
    return f"{fact} {OPERATOR_SYMBOLS.get(operator, operator)} {value_text(operand)}"


# ``not in`` is tried before ``in``, the longest symbol first.
_TEST_TEXT = re.compile(
    r"^\s*([a-z0-9_]+)\s*("
    + "|".join(re.escape(s) for s in sorted(OPERATOR_SYMBOLS.values(), key=len, reverse=True))
    + r")\s*(.+?)\s*$"
)
_OPERATOR_OF: dict[str, str] = {symbol: op for op, symbol in OPERATOR_SYMBOLS.items()}


def _operand(text: str) -> object:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return tuple(_operand(part) for part in text[1:-1].split(",") if part.strip())
    if text in ("true", "false"):
        return text == "true"
    if text.isdigit():
        return int(text)
    return text.strip("'\"")


def read_fact_test_text(text: str) -> tuple[str, str, object] | None:
    """The fact, operator and operand of a fact test written by :func:`fact_test_text` (as a
    result's ``AgreementCondition.condition`` carries it, also when read back from JSON);
    None for text that is not one.
    """
    match = _TEST_TEXT.match(text)
    if match is None:
        return None
    fact, symbol, operand = match.groups()
    return fact, _OPERATOR_OF[symbol], _operand(operand)


def condition_words(condition: str) -> str:
    """A condition written in the rules' terms ('chemotherapy_given = true') in plain words
    ('a chemotherapy drug was given'); text it cannot read is returned without underscores.
    """
    test = read_fact_test_text(condition)
    if test is None:
        return condition.replace("_", " ")
    return requirement(*test)


def situation_words(other: AgreementCondition) -> str:
    """When a source names the option, in words: 'a chemotherapy drug was given'."""
    return join_and([condition_words(str(c)) for c in other.condition])


# --- what the cancer grew on, and what is held back because of it ---------------------------


def grew_on(what: str) -> str:
    """'the cancer grew on letrozole': the one way of saying the cancer progressed on it."""
    return f"the cancer grew on {what}"


def _sentence(said: str) -> str:
    return said[:1].upper() + said[1:]


def how_it_grew(uses: Iterable[PriorUse]) -> str:
    """How the cancer grew on a drug, from its uses: 'it progressed on it' (for metastatic
    disease), 'it recurred during it as adjuvant (early) treatment', or 'it grew on it'.
    """
    ways = []
    for use in uses:
        if use.outcome == "progressed" and use.setting == "metastatic":
            ways.append("it progressed on it")
        elif use.outcome == "progressed":
            ways.append("it recurred during it as adjuvant (early) treatment")
    return " and ".join(sorted(set(ways))) or "it grew on it"


def grown_on_class_reason(class_words: str, ways: str, drugs: Sequence[str]) -> str:
    """Why no drug of a class the record names (not which of its drugs) is offered again."""
    reason = _sentence(
        grew_on(f"{class_words} ({ways}; the record names the class, not the drug)")
        + ": no drug of it is offered again"
    )
    return reason + (f" ({join_and(drugs)})" if drugs else "")


def grown_on_drug_reason(drug_words: str, ways: str, same_drug: Sequence[str]) -> str:
    """Why a drug the cancer grew on (or another name of it) is not offered again."""
    reason = _sentence(grew_on(f"{drug_words} ({ways})") + ": not offered again")
    return reason + (f", nor as {join_and(same_drug, 'or')}, the same drug" if same_drug else "")


def continued_only_in(regimens: Sequence[str]) -> str:
    """' A source continues it only in: ...', or '' when no regimen continues it."""
    return f" A source continues it only in: {'; '.join(regimens)}." if regimens else ""


def held_back_reason(grew: str, classes: int, category: str | None) -> str:
    """Why drugs of a class the cancer grew on (``classes`` of them) are held back, or, for a
    whole ``category`` named, why none of its types is left.
    """
    why = (
        grew_on(grew) + ", and no source names another drug of "
        f"{'that class' if classes == 1 else 'those classes'} after that"
        if category is None
        else grew_on(grew) + f": no type of {category} the sources name is left untried"
    )
    return f"Not offered: {why}."


# --- how the sources agree on an option --------------------------------------------------------

# A source that names an option in a situation no sentence of it gives: said so.
_AT_ANOTHER_TIME = "at another time"


def supported_as_offered(publishers: Sequence[str]) -> str:
    """'supported as offered by ACS and NCI', or 'no source supports it as offered'."""
    if not publishers:
        return "no source supports it as offered"
    return f"supported as offered by {join_and(publishers)}"


def named_at_another_time(publisher: str, drugs: Sequence[str], situation: str) -> str:
    """'ACS names tamoxifen when no line of treatment ... has failed yet, not the case here';
    ``drugs`` named (none: 'it'), ``situation`` in words (none: 'at another time').
    """
    named = join_and(drugs) or "it"
    return f"{publisher} names {named} when {situation or _AT_ANOTHER_TIME}, not the case here"


def sources_supporting(count: int, known: int) -> str:
    """'4 of 5 sources support it as offered' (``known`` sources in all; 0 when not known:
    '1 source support it as offered').
    """
    if known:
        return f"{count} of {known} sources support it as offered"
    return f"{count} source{'s' if count != 1 else ''} support it as offered"


def sources_naming_when(sources: Sequence[str], drugs: Sequence[str], situation: str) -> str:
    """'ACS, PDQ name olaparib when ... (not the case here)': what ``sources`` (short names)
    name for one situation.
    """
    named = join_and(drugs) if drugs else "it"
    verb = "names" if len(sources) == 1 else "name"
    # "when", not "only when": the same source may name it in other situations too (MLH:
    # chemotherapy also for spread to other organs or symptoms), none the case here.
    return (
        f"{', '.join(sources)} {verb} {named} when {situation or _AT_ANOTHER_TIME} "
        "(not the case here)"
    )


def card_supported_as_offered(publishers: Sequence[str]) -> str:
    """A CDS Hooks card's agreement: 'supported as offered by ACS, NCI', or 'none as offered'."""
    return f"supported as offered by {', '.join(publishers)}" if publishers else "none as offered"


def card_named_at_another_time(publisher: str, drugs: Sequence[str], situation: str) -> str:
    """A CDS Hooks card's 'ACS names tamoxifen, letrozole when ..., not the case here:'
    (none named: 'this option'), followed on the card by the source's words.
    """
    named = ", ".join(drugs) or "this option"
    return f"{publisher} names {named} when {situation or _AT_ANOTHER_TIME}, not the case here:"


# --- what the patient has had of an option -----------------------------------------------------


def given_before_line(given: Sequence[tuple[str, str, str]]) -> str:
    """'already given without the cancer growing on it: letrozole (stable, for metastatic
    disease)': each of ``given`` as (drug in words, outcome, setting).
    """
    said = join_and(
        [f"{drug} ({outcome}, {setting_words(setting)})" for drug, outcome, setting in given]
    )
    return f"already given without the cancer growing on it: {said}"


def outcome_unknown_line(given: Sequence[tuple[str, str]]) -> str:
    """'given before, how it ended not known: letrozole (before metastasis); if the cancer grew
    on it, it would not be offered again': each of ``given`` as (drug in words, setting).
    """
    said = join_and([f"{drug} ({setting_words(setting)})" for drug, setting in given])
    return (
        f"given before, how it ended not known: {said}; if {grew_on('it')}, it "
        "would not be offered again"
    )


def card_given_before(given: Sequence[tuple[str, str, str]]) -> str:
    """A CDS Hooks card's 'letrozole (stable, metastatic), tamoxifen (completed, early)':
    each of ``given`` as (drug in words, outcome, setting as the record gives it).
    """
    return ", ".join(f"{drug} ({outcome}, {setting})" for drug, outcome, setting in given)


def card_grew_on(drug: str, setting: str, line: int | None) -> tuple[str, str]:
    """A CDS Hooks order card's 'The cancer grew on letrozole' (its heading) and 'the record
    lists it as progressed, metastatic setting (line 1).' (``setting`` as the record gives it).
    """
    at = f" (line {line})" if line else ""
    return _sentence(grew_on(drug)), f"the record lists it as progressed, {setting} setting{at}."


def card_remove_order(drug: str) -> str:
    """A CDS Hooks suggestion's 'Remove the draft order of letrozole'."""
    return f"Remove the draft order of {drug}"


def card_order_option(drug: str, rank: int, category_words: str, tier: str) -> tuple[str, str]:
    """A CDS Hooks order card for a drug of an option: its detail ('**letrozole** belongs to
    option #1, hormone therapy (preferred), for this record.') and its summary.
    """
    return (
        f"**{drug}** belongs to option #{rank}, {category_words} ({tier}), for this record.",
        f"{drug.capitalize()}: option #{rank}, {category_words} ({tier}) for this record",
    )


def card_order_not_an_option(drug: str) -> tuple[str, str]:
    """A CDS Hooks order card for a drug the sources name but not for this record: its detail
    and its summary.
    """
    return (
        f"**{drug}** is not among the options the sources give for this record.",
        f"{drug.capitalize()}: not among the options the sources give for this record",
    )


def card_check_the_record(
    *,
    left_out: bool,
    conflicting: Sequence[str] | None,
    tests: Sequence[str],
    missing: Sequence[str],
    warnings: int,
    caveats: bool,
) -> str:
    """A CDS Hooks record warning's summary: 'Check the record: conflicting HER2 status; PIK3CA
    status unknown and would change the answer'. ``conflicting``: the fields in conflict (None
    for no conflict; empty for conflicts of no field); ``tests``: what the tests that would
    change the answer ask; ``missing``: the prefetch keys not sent; the number of reading
    ``warnings`` and whether the answer has ``caveats`` are said only when nothing else is.
    """
    problems = []
    if left_out:
        problems.append("resources of another patient left out")
    if conflicting is not None:
        problems.append("conflicting " + (", ".join(conflicting) if conflicting else "entries"))
    if tests:
        problems.append(f"{', '.join(tests)} unknown and would change the answer")
    if missing:
        problems.append(f"{', '.join(missing)} not sent")
    if warnings and not problems:
        problems.append(f"{warnings} reading warning(s)")
    if caveats and not problems:
        problems.append("limits to this answer")
    return "Check the record: " + "; ".join(problems)


def card_order_warning(drug: str, refused: bool, grown: bool) -> str:
    """A CDS Hooks order card's summary: 'Letrozole: not recommended for this record and the
    cancer already grew on it'.
    """
    reasons = []
    if refused:
        reasons.append("not recommended for this record")
    if grown:
        reasons.append("the cancer already grew on it")
    return f"{drug.capitalize()}: {' and '.join(reasons)}"


def card_test_words(status_words: str, drug: str | None) -> str:
    """What a test asks, on a CDS Hooks card: ``status_words`` ('PIK3CA status'), or for a
    treatment whose outcome is not known, 'how capecitabine ended'.
    """
    return f"how {drug} ended" if drug is not None else status_words


def card_answer_words(value: str, *, of_a_treatment: bool) -> str:
    """One answer to a test, on a CDS Hooks card: 'positive'; '(if there were none)'; for how a
    treatment ended, '(the cancer grew on it)', '(completed)'.
    """
    if of_a_treatment:
        return {"progressed": f"({grew_on('it')})", "completed": "(completed)"}.get(
            value, f"({value})"
        )
    if value == "none":
        return "(if there were none)"
    return value.replace("_", " ")


def card_change_words(
    options_added: Sequence[str],
    options_removed: Sequence[str],
    moves: Sequence[tuple[str, int, int]],
    agents_added: Sequence[str],
    agents_removed: Sequence[str],
) -> list[str]:
    """What an answer to a test changes, on a CDS Hooks card: ['adds chemotherapy', 'moves
    hormone therapy (#1 to #2)', 'removes olaparib']; ``moves`` as (category in words, rank
    now, rank then).
    """
    changes = []
    if options_added:
        changes.append("adds " + ", ".join(options_added))
    if options_removed:
        changes.append("removes " + ", ".join(options_removed))
    if moves:
        changes.append("moves " + ", ".join(f"{c} (#{now} to #{then})" for c, now, then in moves))
    if agents_added:
        changes.append("adds " + ", ".join(agents_added))
    if agents_removed:
        changes.append("removes " + ", ".join(agents_removed))
    return changes


# --- how a rank moved, and what a test would change ------------------------------------------


def rank_move_words(
    name: str,
    direction: str,
    rank_now: int,
    rank_then: int,
    passes: Sequence[str],
    passed_by: Sequence[str],
) -> str:
    """'moves chemotherapy up (rank 2 to 1): past targeted therapy, and hormone therapy
    moves past it': ``name``, ``passes`` and ``passed_by`` are categories in words.
    """
    # The same number both times means options were added or removed around it while it
    # changed place among the others (a rank kept by its place is not a move).
    numbers = (
        f"rank {rank_now} to {rank_then}"
        if rank_now != rank_then
        else f"still rank {rank_now}, with options added or removed"
    )
    said = f"moves {name} {direction} ({numbers})"
    details = []
    if passes:
        details.append(f"past {join_and(passes)}")
    if passed_by:
        details.append(
            f"{join_and(passed_by)} {'moves' if len(passed_by) == 1 else 'move'} past it"
        )
    return said + (": " + ", and ".join(details) if details else "")


# What a result without its informative tests says in their place: how to have them.
TESTS_NOT_ASKED = (
    "Tests that would change the answer were not asked for with this result: "
    "Rulebase.evaluate(profile, informative_tests=True) or mbc_rules.informative_tests(result) "
    "gives them."
)

# Lists a profile may leave unknown as a whole: the question, and its "none" answer in words.
_LISTS = {
    "prior_therapies": ("treatment history (not given)", "no treatment had been given"),
    "complications": ("complications (not given)", "there were no complications"),
}

# The complications an unknown list is tried with, as the profile reference reads them
# ("problems the spread causes").
_COMPLICATION_WORDS = {
    "visceral_crisis": "there were a visceral crisis",
    "symptomatic": "the spread caused symptoms",
}


def informative_test_words(status: str, drug: str | None) -> str:
    """What a test asks: 'PIK3CA mutation' for ``pik3ca_status``; 'how capecitabine ended (not
    known)' for a treatment (``drug``, in words) whose outcome is unknown.
    """
    if status in _LISTS:
        # An omitted history tried with a drug: it was not given, not given with no outcome.
        return _LISTS[status][0]
    if drug is not None:
        return f"how {drug} ended (not known)"
    if status == "brain_metastases":
        return "how many brain metastases, and how large (not described)"
    return STATUS_LABELS.get(status, status.replace("_", " "))


def answer_words(status: str, drug: str | None, value: str) -> str:
    """One answer to a test, after 'if': 'the cancer grew on capecitabine', 'a PIK3CA mutation
    in the tumour', 'no treatment had been given'.
    """
    if drug is not None:
        if value == "progressed":
            return grew_on(drug)
        return f"{drug} ended without the cancer growing ({value})"
    if status in _LISTS and value == "none":
        return _LISTS[status][1]
    if status == "complications":
        # A complication tried in turn (whatif.COMPLICATIONS_TRIED), not "none of them".
        return _COMPLICATION_WORDS.get(value, f"the spread caused {value.replace('_', ' ')}")
    return requirement(status, "equals", value)


def if_words(said: str) -> str:
    """'if the cancer grew on capecitabine'."""
    return f"if {said}"


def change_words(added: Sequence[str], removed: Sequence[str]) -> list[str]:
    """['adds chemotherapy', 'removes olaparib']: what an answer to a test adds and removes."""
    changes = []
    if added:
        changes.append(f"adds {join_and(added)}")
    if removed:
        changes.append(f"removes {join_and(removed)}")
    return changes


# --- what is not recommended, and the answer's provenance ------------------------------------


def not_recommended_line(what: str, reason: str, marker: str, unavailable: bool) -> str:
    """'hormone therapy: <reason>'; 'not available here: toremifene: <reason>' for a drug a
    local rule marks unavailable; ``marker`` (a local rule's, or '') ends it.
    """
    said = f"{what}: {reason}{marker}"
    return f"not available here: {said}" if unavailable else said


def card_rules_words(version: str, content_hash: str) -> str:
    """A CDS Hooks card's 'Rules 2026.12.4, sha256 <the whole hash>.'."""
    return f"Rules {version}, sha256 {content_hash}."


def rulebase_words(version: str, content_hash: str) -> str:
    """'Rulebase 2.4.0 (sha256 0123456789ab)': which rules gave the answer (the hash shortened
    to its first 12 digits).
    """
    return f"Rulebase {version} (sha256 {content_hash[:12]})"


# --- the notes of an option: why the sources' orderings place it where it is ------------------

# A note's words by its topic (``OptionNote.topic``), for the notes said the same every time.
NOTE_WORDS: dict[str, str] = {
    "after_systemic_treatment": "Systemic drugs are the main treatment for stage IV breast "
    "cancer; local treatment is used alongside them in certain situations, and is listed "
    "after them.",
    "after_hormone_therapy": "A hormone therapy option is left untried: chemotherapy is "
    "typically used only when endocrine therapy fails, and is listed after it.",
    "chemotherapy_first": "Serious problems from the spread: chemotherapy is often the first "
    "treatment, because hormone therapy can take months to work.",
}


def anti_her2_note(partners: Sequence[str], any_left: bool) -> str:
    """The note of a HER2-positive patient's option other than targeted therapy: the regimens
    (``partners``, in words) that give it with an anti-HER2 drug of the targeted therapy option;
    ``any_left``: whether that option names an anti-HER2 drug at all.
    """
    if not any_left:
        return (
            "HER2-positive disease: every therapy involves anti-HER2 treatment, but no "
            "anti-HER2 drug the sources name is left untried for this patient."
        )
    return "HER2-positive disease: every therapy involves anti-HER2 treatment; " + (
        f"here: {'; '.join(partners)}."
        if partners
        else "give it with an anti-HER2 drug of the targeted therapy option."
    )


# --- explanations: what a rule needs, what it says, and the verdict -----------------------------


def fact_needs_text(fact: str, operator: str, expected: object, actual: object) -> str:
    """A failing fact test in the rules' terms with this profile's value: 'needs
    pik3ca_status = positive; this profile's pik3ca_status is negative'.
    """
    need = fact_test_text(fact, operator, expected)
    return f"needs {need}; this profile's {fact} is {value_text(actual)}"


def _bracketed(node: Trace, text: str, parent: str) -> str:
    # A group of another kind than its parent, of several parts, is bracketed.
    return (
        f"({text})" if node.kind != "fact" and node.kind != parent and len(node.parts) > 1 else text
    )


def condition_text(node: Trace) -> str:
    """A whole condition in the rules' terms, each test with its verdict: ``all`` reads as
    "and", ``any`` as "or"; a test reads ``fact op value [met: actual]``. ``node`` is read
    (:func:`mbc_rules.conditions.read`: no ``not`` left).
    """
    if node.test is not None:
        test = node.test
        need = fact_test_text(test.fact, test.operator, test.operand)
        return f"{need} [{'met' if test.held else 'not met'}: {value_text(test.actual)}]"
    if node.kind in UNTESTED_WORDS:
        return f"{UNTESTED_WORDS[node.kind]} [{'met' if node.held else 'not met'}]"
    word = " and " if node.kind == "all" else " or "
    return word.join(_bracketed(p, condition_text(p), node.kind) for p in node.parts)


def rule_needs_text(node: Trace) -> str:
    """What a failing condition would need, in the rules' terms: each failing test with this
    profile's value (see :func:`fact_needs_text`); ``node`` is read and fails.
    """
    if node.test is not None:
        test = node.test
        return fact_needs_text(test.fact, test.operator, test.operand, test.actual)
    if node.kind in UNTESTED_WORDS:
        return f"no profile can meet {UNTESTED_WORDS[node.kind]}"
    if node.kind == "all":
        failing = [p for p in node.parts if not p.held]
        return " and ".join(_bracketed(p, rule_needs_text(p), "all") for p in failing)
    return " or ".join(_bracketed(p, rule_needs_text(p), "any") for p in node.parts)


def rule_said(
    node: Trace,
    *,
    counted: bool,
    fired: bool,
    offers: bool,
    profile: PatientProfile | None,
    vocabulary: Vocabulary | None,
) -> str:
    """A rule as it reads for this patient, in plain words: 'applies: after menopause', 'rules
    it out: ...', 'would offer it with a PIK3CA mutation in the tumour (this patient: PIK3CA
    status not known)'; '' for a rule that could rule the subject out but does not apply.
    ``node`` is read; a rule that ``fired`` but is not ``counted`` speaks only of women.
    """
    if fired and not counted:
        return "its sources speak only of women, so it does not count for this patient"
    if node.held:
        met = met_words(node)
        if offers:
            return "applies: " + met if met else "applies to everyone"
        return "rules it out: " + met if met else "rules it out for everyone"
    if offers:
        return "would offer it with " + needs_words(node, profile, vocabulary)
    return ""  # a rule that could rule it out but does not apply: nothing to say


def waits_on_words(needed: str, title: str) -> str:
    """'a PIK3CA mutation in the tumour (this patient: ...): Alpelisib with fulvestrant': a
    rule that waits only on a test nobody has done, by what it needs and its title.
    """
    return f"{needed}: {title}"


def nearest_rule_words(needed: str, title: str, *, history_only: bool) -> str:
    """'the sources offer it with ...: <title>', led by 'no test: ' when only the treatment
    history stands against the rule (no test would change it).
    """
    lead = "no test: " if history_only else ""
    return f"{lead}the sources offer it with {needed}: {title}"


def waiting_on_a_test(states: Sequence[str]) -> str:
    """'waiting on a test: PIK3CA status not known': the unknown facts a rule waits on."""
    return f"waiting on a test: {join_and(states)}"


def quote_words(excerpt: str, publisher: str) -> str:
    """' "<the source's words>" (American Cancer Society)': a quotation after a reason."""
    return f' "{excerpt}" ({publisher})'


def offered_verdict(
    name: str,
    within: str | None,
    rank: int,
    total: int,
    tied: bool,
    tier: str,
    own_tier: str | None,
) -> str:
    """'letrozole: offered within hormone therapy, rank 1 of 7, preferred.': ``within`` the
    option's category in words (None for a category itself); ``own_tier``: the subject's own,
    weaker tier, said after ('margetuximab itself: situational').
    """
    where = f"rank {rank} of {total}{' (tied)' if tied else ''}"
    inside = f" within {within}" if within is not None else ""
    verdict = f"{name}: offered{inside}, {where}, {tier}"
    if own_tier is not None:
        verdict += f" ({name} itself: {own_tier})"
    return verdict + "."


def refused_verdict(name: str, decisive: str | None) -> str:
    """'letrozole: not offered: the cancer grew on letrozole, ...': ``decisive``, the first
    reason (its quotation left off, lower-case start), or None when no rule that names it
    applies.
    """
    if decisive is None:
        return f"{name}: not offered: no rule that names it applies."
    text = decisive.split(' "')[0].rstrip(".")
    clause = text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
    return f"{name}: not offered: {clause}."


def unnamed_verdict(name: str) -> str:
    """The verdict on a subject no rule names: 'homeopathy: not offered; no rule ...'."""
    return f"{name}: not offered; no rule of the rulebase names it."


def tier_line(tier: str) -> str:
    """'tier: preferred (preferred: the sources' first or usual choice), the strongest any of
    its rules gives'.
    """
    return f"tier: {tier} ({TIER_WORDS.get(tier, tier)}), the strongest any of its rules gives"


def supported_by_line(count: int, publishers: Sequence[str]) -> str:
    """'supported by 2 sources (American Cancer Society, NCI PDQ)'."""
    return f"supported by {count} source{'s' if count != 1 else ''} ({', '.join(publishers)})"


def shares_rank_line(rank: int, others: Sequence[str]) -> str:
    """'shares rank 2 with surgery: equal on every ordering rule (...)'."""
    return (
        f"shares rank {rank} with {join_and(others)}: equal on every ordering rule "
        "(listed in the usual order of the categories)"
    )


def next_to_line(place: str, category_words: str, reason: str) -> str:
    """'after hormone therapy: <reason>' (``place``: 'after' or 'before')."""
    return f"{place} {category_words}: {reason}"


# Why one option comes before another, by the field of the ranking's key that differs
# (rank.arrange.OrderField; docs/ranking.md).
_ORDERED_BY: dict[str, str] = {
    "supportive": "supportive care is listed after every anticancer option",
    "local": "systemic treatment comes before local and other treatment",
    "ordering": "the sources' own ordering between these categories (see docs/ranking.md)",
}


def ordered_by_words(field: str, first: tuple[str, str, int], then: tuple[str, str, int]) -> str:
    """Why ``first`` comes before ``then``, each as (category in words, tier, number of
    sources), when ``field`` decides: 'preferred comes before option', 'more sources support
    chemotherapy (4 against 2)'.
    """
    if field in _ORDERED_BY:
        return _ORDERED_BY[field]
    if field == "tier":
        return f"{first[1]} comes before {then[1]}"
    return f"more sources support {first[0]} ({first[2]} against {then[2]})"


def differ_line(publisher: str, situation: str, excerpt: str | None) -> str:
    """'ACS names it for another time: <situation> "<the source's words>"'."""
    said = f"{publisher} names it for another time: {situation}"
    return said + (f' "{excerpt}"' if excerpt is not None else "")


def other_rules_line(count: int) -> str:
    """'3 other rules name it but do not apply to this patient (...)'."""
    return (
        f"{count} other rule{'s' if count != 1 else ''} name it but do not apply "
        "to this patient (the structured form, e.g. --json, lists them)."
    )
