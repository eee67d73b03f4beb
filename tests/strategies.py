"""Hypothesis strategies: valid patient profiles, as plain mappings."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from mbc_rules.bundled import bundled_vocabulary
from mbc_rules.profile import TEST_RESULT_FIELDS
from mbc_rules.vocabulary import COMPLICATIONS, SITES

STATUS = st.sampled_from(["positive", "negative", "unknown"])
AGENT_IDS = sorted(a.id for a in bundled_vocabulary().agents.values() if a.kind == "drug")


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    """A valid profile: any statuses, sites, complications and treatment history."""
    sex = draw(st.sampled_from(["female", "male", "unknown"]))
    menopause = (
        "unknown"
        if sex == "male"
        else draw(st.sampled_from(["premenopausal", "postmenopausal", "unknown"]))
    )
    sites = draw(st.lists(st.sampled_from(SITES), unique=True, max_size=5))
    history = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "agent": st.sampled_from(AGENT_IDS),
                    "outcome": st.sampled_from(
                        ["ongoing", "progressed", "completed", "intolerant", "unknown"]
                    ),
                    "setting": st.sampled_from(["metastatic", "early"]),
                },
                optional={"line": st.integers(1, 4)},
            ),
            unique_by=lambda t: (t["agent"], t["setting"]),
            max_size=6,
        )
    )
    return {
        "sex": sex,
        "er_status": draw(STATUS),
        "pr_status": draw(STATUS),
        "her2_status": draw(STATUS),
        "brca_status": draw(STATUS),
        "pik3ca_status": draw(STATUS),
        "pdl1_status": draw(STATUS),
        "menopausal_status": menopause,
        "metastatic_sites": sites,
        "complications": draw(st.lists(st.sampled_from(COMPLICATIONS), unique=True, max_size=4)),
        "brain_metastases": draw(st.sampled_from(["few", "multiple", "multiple_large", "unknown"])),
        "resectable_sites": draw(st.lists(st.sampled_from(sites), unique=True)) if sites else [],
        "widespread_bone_metastases": draw(st.sampled_from([None, True, False])),
        "de_novo": draw(st.sampled_from([None, True, False])),
        "good_general_health": draw(st.sampled_from([None, True, False])),
        "prior_therapies": history,
    }


def random_profile(rng: Any) -> dict[str, Any]:
    """The same space as :func:`profiles`, drawn from a seeded ``random.Random``.

    For properties over thousands of profiles: hypothesis draws the seeds (and replays a
    failing one), and drawing from ``random`` is a hundred times cheaper than from strategies.
    """
    statuses = ["positive", "negative", "unknown"]
    sex = rng.choice(["female", "male", "unknown"])
    menopause = (
        "unknown" if sex == "male" else rng.choice(["premenopausal", "postmenopausal", "unknown"])
    )
    sites = rng.sample(SITES, rng.randint(0, 5))
    history = []
    for agent in rng.sample(AGENT_IDS, rng.randint(0, 6)):
        entry: dict[str, Any] = {
            "agent": agent,
            "outcome": rng.choice(["ongoing", "progressed", "completed", "intolerant", "unknown"]),
            "setting": rng.choice(["metastatic", "early"]),
        }
        if rng.random() < 0.5:
            entry["line"] = rng.randint(1, 4)
        history.append(entry)
    return {
        "sex": sex,
        **{field: rng.choice(statuses) for field in TEST_RESULT_FIELDS},
        "menopausal_status": menopause,
        "metastatic_sites": sites,
        "complications": rng.sample(COMPLICATIONS, rng.randint(0, 4)),
        "brain_metastases": rng.choice(["few", "multiple", "multiple_large", "unknown"]),
        "resectable_sites": rng.sample(sites, rng.randint(0, len(sites))) if sites else [],
        "widespread_bone_metastases": rng.choice([None, True, False]),
        "de_novo": rng.choice([None, True, False]),
        "good_general_health": rng.choice([None, True, False]),
        "prior_therapies": history,
    }
