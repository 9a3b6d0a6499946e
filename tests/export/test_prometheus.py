"""The text exposition format: what Prometheus' own parser reads back, and exact buckets."""

from __future__ import annotations

import bisect
import random

import pytest
from prometheus_client.parser import text_string_to_metric_families

from perf_mcp.core.sketch import LogHistogram
from perf_mcp.export.prometheus import (
    NOMINAL_LE_S,
    Family,
    cumulative_counts,
    format_value,
    le_bounds,
    render,
)


def parsed(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Each family's samples as prometheus_client's parser reads them."""
    return {
        f.name: [(s.name, s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(text)
    }


def test_label_values_with_quotes_backslashes_newlines_and_unicode_read_back_intact() -> None:
    nasty = 'C:\\temp\\"quoted"\nnext line — ünïcode'
    family = Family("perf_mcp_things_total", "counter", "Things.\nSecond line \\ slash.")
    family.add({"route": nasty, "method": "GET"}, 7)
    text = render([family])
    assert text.splitlines()[0] == "# HELP perf_mcp_things_total Things.\\nSecond line \\\\ slash."
    [sample] = parsed(text)["perf_mcp_things"]
    assert sample == ("perf_mcp_things_total", {"route": nasty, "method": "GET"}, 7.0)


def test_each_family_has_help_and_type_once_and_its_samples_together() -> None:
    runs = Family("perf_mcp_runs_total", "counter", "Runs.")
    runs.add({"agent": "a"}, 1)
    runs.add({"agent": "b"}, 2)
    firing = Family("perf_mcp_alerts_firing", "gauge", "Firing.")
    firing.add({}, 0)
    lines = render([runs, firing]).splitlines()
    assert lines == [
        "# HELP perf_mcp_runs_total Runs.",
        "# TYPE perf_mcp_runs_total counter",
        'perf_mcp_runs_total{agent="a"} 1',
        'perf_mcp_runs_total{agent="b"} 2',
        "# HELP perf_mcp_alerts_firing Firing.",
        "# TYPE perf_mcp_alerts_firing gauge",
        "perf_mcp_alerts_firing 0",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(3, "3"), (0.25, "0.25"), (1e-07, "1e-07"), (float("inf"), "+Inf"), (float("nan"), "NaN")],
)
def test_values_are_written_as_prometheus_reads_them(value: float, shown: str) -> None:
    assert format_value(value) == shown


def test_le_bounds_are_sketch_bucket_edges_just_above_the_nominal_ones() -> None:
    bounds = [float(le) for le, _ in le_bounds()]
    assert bounds == sorted(bounds)
    assert len(bounds) == len(NOMINAL_LE_S)
    for nominal, bound in zip(NOMINAL_LE_S, bounds, strict=True):
        assert nominal <= bound <= nominal * 1.021  # within one sketch bucket (2%) above


def test_bucket_counts_equal_the_exact_count_of_samples_at_or_below_each_bound() -> None:
    rng = random.Random(12)
    values_ms = sorted(
        [0.0, 0.0004, *(rng.lognormvariate(3.5, 1.8) for _ in range(5000)), 9e5, 4e7]
    )
    hist = LogHistogram()
    for v in values_ms:
        hist.add(v)
    for le, count in cumulative_counts(hist):
        exact = bisect.bisect_right(values_ms, float(le) * 1000)
        assert count == exact, le


def test_a_histogram_reads_back_as_prometheus_histogram_with_sum_and_count() -> None:
    hist = LogHistogram()
    for v in (0.0, 3.0, 40.0, 40.0, 2000.0):
        hist.add(v)
    family = Family("perf_mcp_call_duration_seconds", "histogram", "Call duration.")
    family.add_histogram({"tool": "search"}, hist, sum_ms=2083.0)
    [metric] = text_string_to_metric_families(render([family]))
    assert metric.type == "histogram"
    by_name = {(s.name, s.labels.get("le")): s.value for s in metric.samples}
    bounds = dict(zip(NOMINAL_LE_S, (le for le, _ in le_bounds()), strict=True))
    assert by_name[("perf_mcp_call_duration_seconds_bucket", "+Inf")] == 5
    assert by_name[("perf_mcp_call_duration_seconds_bucket", bounds[0.001])] == 1
    assert by_name[("perf_mcp_call_duration_seconds_bucket", bounds[0.05])] == 4
    assert by_name[("perf_mcp_call_duration_seconds_count", None)] == 5
    assert by_name[("perf_mcp_call_duration_seconds_sum", None)] == pytest.approx(2.083)
