"""ICD-10-CM search on the chart: the one-off index build and per-search latency.

Run: python bench/icd_search.py
"""

from __future__ import annotations

import statistics
import time

from clinic_app.services.charting.codes import search_icd10

QUERIES = ["low back pain", "M54", "knee", "sprain ankle", "s93.4", "radiculopathy lumbar", "shoulder pain", "G56.0"]


def main() -> None:
    start = time.perf_counter()
    search_icd10("warm up")
    build_ms = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            search_icd10(q)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"index build (first search): {build_ms:.0f} ms")
    print(f"search over {len(times)} queries: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
