"""Reading large FHIR bundles: time and peak memory of ``read_fhir`` beside ``json.loads``.

Usage: python benchmarks/fhir.py [--entries 1000 10000 50000]

Each bundle holds one metastatic breast cancer patient (receptors, a BRCA variant, two secondary
cancers, three drugs and a disease status) padded with haemoglobin results, as a long EHR
extract is. The yardstick, measured in the same run on the same text, is ``json.loads``: the
least any reader of the JSON must spend. Peak memory is measured with ``tracemalloc`` around
the whole read (parsing included), beside the size of the text. Where ``fhir.resources`` is
installed, its R4B models validating the same entries one by one are timed too (design notes).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fhir_builders import (  # noqa: E402
    LOINC,
    SNOMED,
    coded,
    condition,
    medication,
    metastatic_bundle,
    observation,
    quantity,
    variant,
)

from mbc_rules import read_fhir  # noqa: E402


def record(entries: int) -> dict[str, Any]:
    clinical = [
        observation("er", "85337-4", **coded(LOINC, "LA6576-8")),
        observation("pr", "85339-0", **quantity(20)),
        observation("her2", "85319-2", valueString="1+"),
        variant("brca", "HGNC:1100", source="LA6683-2"),
        condition("liver", "94381002"),
        medication("letrozole", "72965", start="2020-07-01", end="2021-06-01"),
        medication("palbociclib", "1601374", start="2020-07-01", end="2021-06-01"),
        medication("fulvestrant", "282357", status="active", start="2021-07-01", end=None),
        observation("status", "97509-4", date="2021-05-01", **coded(SNOMED, "271299001")),
    ]
    padding = max(0, entries - len(clinical) - 3)
    labs = [
        observation(f"hb{i}", "718-7", date="2021-01-01", **quantity(12.5, "g/dL"))
        for i in range(padding)
    ]
    return metastatic_bundle(*clinical, *labs)


def best_of(runs: int, work: Any) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def fhir_resources_seconds(bundle: dict[str, Any]) -> float | None:
    try:
        from fhir.resources.R4B import get_fhir_model_class  # type: ignore[import-not-found]
    except ImportError:
        return None
    resources = [entry["resource"] for entry in bundle["entry"]]

    def validate() -> None:
        for resource in resources:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)

    return best_of(1, validate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    args = parser.parse_args()
    read_fhir(record(20))  # code tables and vocabulary loaded once, outside the timings
    print(
        f"{'entries':>8} {'MB':>6} {'json.loads s':>13} {'read_fhir s':>12} {'x':>5} "
        f"{'peak MB':>8} {'fhir.resources s':>17}"
    )
    for entries in args.entries:
        bundle = record(entries)
        text = json.dumps(bundle)
        runs = 3 if entries <= 10_000 else 1
        yardstick = best_of(runs, lambda text=text: json.loads(text))
        reading_time = best_of(runs, lambda text=text: read_fhir(text))
        gc.collect()
        tracemalloc.start()
        reading = read_fhir(text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert reading.profile.brca_status == "positive"
        assert reading.profile.er_status == "positive"
        other = fhir_resources_seconds(bundle)
        shown = f"{other:.2f}" if other is not None else "not installed"
        print(
            f"{entries:>8} {len(text) / 1e6:>6.1f} {yardstick:>13.3f} {reading_time:>12.3f} "
            f"{reading_time / yardstick:>5.1f} {peak / 1e6:>8.0f} {shown:>17}"
        )


if __name__ == "__main__":
    main()
