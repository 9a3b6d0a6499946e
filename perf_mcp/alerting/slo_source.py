"""SLO burn rates as alert observations: the three burn-rate rules of every stored SLO
(perf_mcp.core.alerts.slo) join the values the manager evaluates, so SLO alerts have the
lifecycle of every alert (severity, hysteresis, cooldown, acknowledgement, webhook).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from perf_mcp.alerting.sources import (
    HistoryPoint,
    HistorySource,
    Observation,
    ObservationSource,
    Observed,
)
from perf_mcp.core.alerts.slo import BURN_RULES, SloList

if TYPE_CHECKING:
    from perf_mcp.monitor import Monitor

SLO_RULES = frozenset(rule.rule for rule in BURN_RULES)


def slo_observations(slos: SloList) -> list[Observation]:
    """Each SLO's value for each burn-rate rule, the SLO's name as the subject."""
    return [
        Observation(rule.rule, status.name, rule.burn, int(rule.burn is not None))
        for status in slos.slos
        for rule in status.rules
    ]


def with_slos(source: ObservationSource, monitor: Monitor) -> ObservationSource:
    """``source``'s observations plus the burn-rate rules of the Monitor's SLOs."""

    def observe() -> Observed:
        observed = source()
        extra = slo_observations(monitor.list_slos())
        return Observed(observed.observations + extra, observed.partial)

    return observe


def with_slo_history(history: HistorySource, monitor: Monitor) -> HistorySource:
    """``history``, and for the SLO rules each SLO's burn over the last 24 h (for a
    set_threshold dry run of a burn-rate rule)."""

    def history_of(rule: str, subject: str | None) -> Mapping[str, Sequence[HistoryPoint]]:
        if rule not in SLO_RULES:
            return history(rule, subject)
        found = monitor.slo_history(rule)
        return found if subject is None else {subject: found.get(subject, [])}

    return history_of
