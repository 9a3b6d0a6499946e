"""Dry runs: how a threshold would have behaved over a stored history (``set_threshold``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import Field

from perf_mcp.core.alerts.specs import FrozenModel, RuleSettings
from perf_mcp.core.alerts.state import AlertState, evaluate
from perf_mcp.core.alerts.thresholds import Threshold, ThresholdOverride, effective_threshold

MAX_LISTED_SUBJECTS = 10


class ReplaySummary(FrozenModel):
    """How a threshold would have behaved over a stored history (``set_threshold`` dry run)."""

    evaluations: int
    fired: int = Field(description="Episodes that started.")
    escalations: int
    notifications: int
    firing_s: float = Field(description="Time spent firing, between evaluation points.")
    still_firing: bool
    first_at: float | None = Field(default=None, description="The oldest point replayed.")
    last_at: float | None = Field(default=None, description="The newest point replayed.")
    subjects: int = Field(default=1, description="Subjects replayed (endpoints, agents, ...).")
    fired_subjects: list[str] = Field(
        default=[], description=f"Up to {MAX_LISTED_SUBJECTS} subjects that fired, most first."
    )


def replay(
    threshold: Threshold, subject: str, points: Iterable[tuple[float, float | None, int]]
) -> ReplaySummary:
    """Run ``evaluate()`` over (time, value, samples) points in time order: a dry run."""
    state: AlertState | None = None
    evaluations = fired = escalations = notifications = 0
    firing_s = 0.0
    first_at: float | None = None
    last_at: float | None = None
    for at, value, samples in points:
        first_at = at if first_at is None else first_at
        if state is not None and state.firing and last_at is not None:
            firing_s += max(0.0, at - last_at)
        result = evaluate(threshold, subject, value, samples, at, state)
        state, last_at = result.state, at
        evaluations += 1
        for event in result.events:
            fired += event.kind == "fired"
            escalations += event.kind == "escalated"
            notifications += event.notify
    return ReplaySummary(
        evaluations=evaluations,
        fired=fired,
        escalations=escalations,
        notifications=notifications,
        firing_s=firing_s,
        still_firing=bool(state and state.firing),
        first_at=first_at,
        last_at=last_at,
        fired_subjects=[subject] if fired else [],
    )


def combine_replays(by_subject: Mapping[str, ReplaySummary]) -> ReplaySummary:
    """One summary for a rule replayed subject by subject: counts add up.

    >>> quiet = ReplaySummary(evaluations=3, fired=0, escalations=0, notifications=0,
    ...     firing_s=0, still_firing=False, first_at=60, last_at=180)
    >>> busy = quiet.model_copy(update={"fired": 2, "notifications": 2, "firing_s": 60})
    >>> both = combine_replays({"/a": quiet, "/b": busy})
    >>> (both.evaluations, both.fired, both.subjects, both.fired_subjects)
    (6, 2, 2, ['/b'])
    """
    parts = list(by_subject.values())
    firsts = [p.first_at for p in parts if p.first_at is not None]
    lasts = [p.last_at for p in parts if p.last_at is not None]
    fired = sorted((p.fired, s) for s, p in by_subject.items() if p.fired)
    return ReplaySummary(
        evaluations=sum(p.evaluations for p in parts),
        fired=sum(p.fired for p in parts),
        escalations=sum(p.escalations for p in parts),
        notifications=sum(p.notifications for p in parts),
        firing_s=sum(p.firing_s for p in parts),
        still_firing=any(p.still_firing for p in parts),
        first_at=min(firsts, default=None),
        last_at=max(lasts, default=None),
        subjects=len(parts),
        fired_subjects=[s for _, s in reversed(fired)][:MAX_LISTED_SUBJECTS],
    )


def compare_levels(
    name: str,
    by_subject: Mapping[str, Iterable[tuple[float, float | None, int]]],
    current: Iterable[ThresholdOverride],
    proposed: Iterable[ThresholdOverride],
    settings: RuleSettings | None = None,
) -> tuple[ReplaySummary, ReplaySummary, str]:
    """Replay rule ``name``'s history under the proposed overrides and under the current
    ones: (replay, baseline, a sentence comparing them) for a ``set_threshold`` dry run."""
    current, proposed = list(current), list(proposed)
    new: dict[str, ReplaySummary] = {}
    old: dict[str, ReplaySummary] = {}
    for subject, points in by_subject.items():
        points = list(points)
        for overrides, into in ((proposed, new), (current, old)):
            threshold = effective_threshold(name, subject, overrides, settings)
            into[subject] = replay(threshold, subject, points)
    replayed, baseline = combine_replays(new), combine_replays(old)
    if not replayed.evaluations:
        return replayed, baseline, "no stored history for this rule yet: nothing to replay"
    span = (replayed.last_at or 0) - (replayed.first_at or 0)
    note = (
        f"replayed {replayed.evaluations} evaluations of {replayed.subjects} subject(s) over "
        f"{span / 3600:.1f} h of stored history: {replayed.fired} episode(s) with the new "
        f"levels, {baseline.fired} with the current ones"
    )
    return replayed, baseline, note
