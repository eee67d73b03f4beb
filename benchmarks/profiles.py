"""Synthetic but realistic profiles for benchmarks and memory checks (seeded, reproducible)."""

from __future__ import annotations

import random
from typing import Any

STATUSES = ("positive", "negative", "unknown")
SITES = ("bone", "liver", "lung", "brain", "spine", "soft_tissue", "lymph_nodes", "pleura")
COMPLICATIONS = ("bone_pain", "symptomatic", "rapid_growth", "visceral_crisis", "fracture_risk")
HISTORY = (
    "letrozole",
    "Arimidex",
    "tamoxifen",
    "fulvestrant",
    "palbociclib",
    "trastuzumab",
    "pertuzumab",
    "paclitaxel",
    "capecitabine",
    "Kadcyla",
    "carboplatin",
)


def realistic_profiles(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """Profiles weighted like a clinic: mostly known receptor status, some history."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        sex = "male" if rng.random() < 0.01 else "female"
        out.append(
            {
                "patient_id": f"p{i}",
                "sex": sex,
                "er_status": rng.choices(STATUSES, (70, 25, 5))[0],
                "pr_status": rng.choices(STATUSES, (60, 35, 5))[0],
                "her2_status": rng.choices(STATUSES, (20, 75, 5))[0],
                "brca_status": rng.choices(STATUSES, (5, 30, 65))[0],
                "pik3ca_status": rng.choices(STATUSES, (15, 25, 60))[0],
                "pdl1_status": rng.choices(STATUSES, (10, 20, 70))[0],
                "menopausal_status": "unknown"
                if sex == "male"
                else rng.choice(("premenopausal", "postmenopausal", "postmenopausal")),
                "metastatic_sites": rng.sample(SITES, rng.randint(1, 3)),
                "complications": rng.sample(COMPLICATIONS, rng.randint(0, 2)),
                "prior_therapies": [
                    {"agent": a, "outcome": rng.choice(("progressed", "completed", "ongoing"))}
                    for a in rng.sample(HISTORY, rng.randint(0, 3))
                ],
            }
        )
    return out


# A wider pool for histories that never repeat: every drug class the rules name.
POOL = (
    *HISTORY,
    "exemestane",
    "everolimus",
    "alpelisib",
    "ribociclib",
    "abemaciclib",
    "olaparib",
    "talazoparib",
    "eribulin",
    "docetaxel",
    "gemcitabine",
    "lapatinib",
    "tucatinib",
    "neratinib",
    "sacituzumab govitecan",
    "pembrolizumab",
    "elacestrant",
)
OUTCOMES = ("progressed", "completed", "ongoing", "intolerant")
SETTINGS = ("metastatic", "metastatic", "early")


def distinct_history_profiles(count: int, seed: int = 4242) -> list[dict[str, Any]]:
    """Profiles like :func:`realistic_profiles` (seeded apart from them: held-out rows), each
    with a treatment history (1-4 drugs, their outcomes and settings) no other row has.
    """
    rng = random.Random(seed)
    base = realistic_profiles(count, seed=seed + 1)
    seen: set[frozenset[tuple[str, str, str]]] = set()
    for profile in base:
        while True:
            uses = [
                (agent, rng.choice(OUTCOMES), rng.choice(SETTINGS))
                for agent in rng.sample(POOL, rng.randint(1, 4))
            ]
            key = frozenset(uses)
            if key not in seen:
                seen.add(key)
                break
        profile["prior_therapies"] = [{"agent": a, "outcome": o, "setting": s} for a, o, s in uses]
    return base
