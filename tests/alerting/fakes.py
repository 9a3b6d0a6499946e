"""Fakes for the alerting tests: a clock, a world the source observes, a subscriber's inbox."""

from __future__ import annotations

from collections.abc import Sequence

from perf_mcp.alerting import Observation, Observed
from perf_mcp.core.alerts import AlertEvent

SEARCH = "GET /search"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """What the source observes: the test sets values; unset subjects are not seen at all."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[float | None, int]] = {}
        self.partial: frozenset[str] = frozenset()
        self.fail: Exception | None = None

    def set(self, rule: str, subject: str, value: float | None, samples: int = 100) -> None:
        self.values[rule, subject] = (value, samples)

    def __call__(self) -> Observed:
        if self.fail is not None:
            raise self.fail
        found = [Observation(r, s, v, n) for (r, s), (v, n) in self.values.items()]
        return Observed(found, self.partial)


class Inbox:
    """A subscriber that keeps every batch of events."""

    def __init__(self) -> None:
        self.batches: list[list[AlertEvent]] = []

    def __call__(self, events: Sequence[AlertEvent]) -> None:
        self.batches.append(list(events))

    @property
    def kinds(self) -> list[tuple[str, str, str]]:
        return [(e.kind, e.rule, e.subject) for batch in self.batches for e in batch]
