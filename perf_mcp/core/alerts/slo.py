"""Service level objectives: what ``set_slo`` stores, the error budget left, and the burn-rate
alert rules of the Google SRE workbook. Pure: stdlib and pydantic only.

An SLO says which share of events must be good over a rolling ``period_days``:

- ``availability``: requests that are not 5xx, or agent runs / tool calls that succeed;
- ``latency``: events faster than ``threshold_ms``, counted from the stored log histograms.
  A sample counts as fast only when its whole bucket lies under the threshold (buckets are
  1.1% wide), so one up to 1.1% under the threshold may count as slow, never a slow one as fast;
  ``counted_under_ms`` in the answer is where that line falls. When every sample of a window
  is under the threshold (its maximum is exact) all count as fast.

The burn rate of a window is its bad share over the allowed one, ``1 - objective``: at 1x the
budget lasts exactly the period. An alert rule looks at a long and a short window and fires
when both burn above its factor (the short one makes it resolve soon after the burning stops):

====================  ======  ===========  ==========  ==========================
rule                  factor  long window  short       severity
====================  ======  ===========  ==========  ==========================
``slo_fast_burn``     14.4x   1 h          5 min       critical (pages)
``slo_medium_burn``   6x      6 h          30 min      critical (pages)
``slo_slow_burn``     1x      3 d          6 h         warning (a ticket)
====================  ======  ===========  ==========  ==========================

The windows are the workbook's for a 30-day period and scale with the SLO's period (7 days:
14 min and 70 s for the fast rule), so each rule still fires when it has spent the same share
of the budget (2%, 5% and 10% of it in the long window).

>>> slo = make_slo(kind="availability", scope="endpoint", subject="GET /checkout",
...                objective=0.999, now=0.0)
>>> slo.name, window_seconds(slo)[3600]
('GET /checkout availability', 3600)
>>> burn(bad=20, total=1000, objective=0.999)
20.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from perf_mcp.core.alerts.replay import ReplaySummary
from perf_mcp.core.alerts.specs import FrozenModel, Severity
from perf_mcp.core.models import MAX_NAME_LENGTH, InvalidInputError
from perf_mcp.core.sketch import LogHistogram, position, upper_bound

SloKind = Literal["availability", "latency"]
SloScope = Literal["endpoint", "agent", "tool", "all"]
AlertLevel = Literal["none", "ticket", "page"]
BASE_PERIOD_S = 30 * 86400  # the workbook's windows are for a 30-day period
MIN_PERIOD_DAYS = 1.0
MAX_PERIOD_DAYS = 90.0  # the hour rows are kept 90 days
_ENDPOINT = re.compile(r"^(?:[A-Z]{1,16} )?/")

Counts = tuple[int, int]  # (bad events, all events) in one window


@dataclass(frozen=True)
class BurnRule:
    """One multiwindow burn-rate rule; windows in seconds for a 30-day period."""

    rule: str
    factor: float
    long_s: int
    short_s: int
    severity: Severity


BURN_RULES: tuple[BurnRule, ...] = (
    BurnRule("slo_fast_burn", 14.4, 3600, 300, "critical"),
    BurnRule("slo_medium_burn", 6.0, 6 * 3600, 1800, "critical"),
    BurnRule("slo_slow_burn", 1.0, 3 * 86400, 6 * 3600, "warning"),
)
BASE_WINDOWS_S: tuple[int, ...] = tuple(
    sorted({s for r in BURN_RULES for s in (r.long_s, r.short_s)})
)


class Slo(FrozenModel):
    """One objective as stored: what counts, over which events, how often it must hold."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    kind: SloKind
    scope: SloScope = Field(description="What the events are; all = every HTTP request.")
    subject: str | None = Field(
        default=None, description='"GET /checkout" or "/checkout", an agent or a tool.'
    )
    objective: float = Field(description="The share of good events, e.g. 0.999.")
    threshold_ms: float | None = Field(default=None, description="Latency SLOs: fast means under.")
    period_days: float = 30.0
    updated_at: float

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(
                f"must be a fraction strictly between 0 and 1 (0.999 means 99.9%), got {value!r}"
            )
        return value

    @field_validator("period_days")
    @classmethod
    def _period(cls, value: float) -> float:
        if not MIN_PERIOD_DAYS <= value <= MAX_PERIOD_DAYS:
            raise ValueError(
                f"must be from {MIN_PERIOD_DAYS:g} to {MAX_PERIOD_DAYS:g} days, got {value!r}"
            )
        return value

    @field_validator("threshold_ms")
    @classmethod
    def _threshold(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"must be a positive number of milliseconds, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Slo:
        if self.kind == "latency" and self.threshold_ms is None:
            raise ValueError("a latency SLO needs threshold_ms (fast means under it)")
        if self.kind == "availability" and self.threshold_ms is not None:
            raise ValueError("threshold_ms is for latency SLOs; omit it for availability")
        if self.scope == "all" and self.subject is not None:
            raise ValueError("scope 'all' covers every request: omit the subject")
        if self.scope != "all" and not self.subject:
            raise ValueError(f"scope {self.scope!r} needs a subject: which {self.scope}")
        if self.scope == "endpoint" and not _ENDPOINT.match(self.subject or ""):
            raise ValueError(
                f"an endpoint subject is a path like '/checkout' or a method and path like "
                f"'POST /checkout', got {self.subject!r}"
            )
        return self

    @property
    def period_s(self) -> float:
        return self.period_days * 86400

    @property
    def target(self) -> str:
        """What the events are, as a person reads it."""
        if self.scope == "all":
            return "all requests"
        subject = self.subject or ""
        return subject if self.scope == "endpoint" else f"{self.scope} {subject}"


def make_slo(
    *,
    kind: str,
    scope: str,
    objective: float,
    now: float,
    subject: str | None = None,
    threshold_ms: float | None = None,
    period_days: float = 30.0,
    name: str | None = None,
) -> Slo:
    """Validate a ``set_slo`` call; each error names the field and what is allowed."""
    if subject is not None:
        subject = subject.strip()
    default = f"{subject or 'all requests'} {kind}"
    try:
        return Slo(
            name=(name.strip() if name is not None else default),
            kind=kind,  # type: ignore[arg-type]
            scope=scope,  # type: ignore[arg-type]
            subject=subject,
            objective=objective,
            threshold_ms=threshold_ms,
            period_days=period_days,
            updated_at=now,
        )
    except ValidationError as exc:
        raise InvalidInputError(_readable(exc)) from None


def _readable(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "invalid SLO: " + "; ".join(parts)


# ---------------------------------------------------------------- the numbers


def window_seconds(slo: Slo) -> dict[int, int]:
    """Each rule window's seconds for a 30-day period -> for ``slo``'s period (10 s steps)."""
    scale = slo.period_s / BASE_PERIOD_S
    return {base: max(10, round(base * scale / 10) * 10) for base in BASE_WINDOWS_S}


def burn(bad: int, total: int, objective: float) -> float | None:
    """How many times faster than allowed the budget burns (None: no events); rounded to 9
    decimals, so the float error of ``1 - objective`` never tips an on-budget SLO over 1x."""
    return round(bad / (total * (1 - objective)), 9) if total else None


def slow_count(hist: LogHistogram, threshold_ms: float) -> int:
    """Samples of ``hist`` not counted under ``threshold_ms`` (see the module's note)."""
    if hist.count == 0 or hist.max < threshold_ms:
        return 0
    line = position(threshold_ms)
    return hist.count - sum(n for pos, n in hist.bins.items() if pos < line)


def counted_under(threshold_ms: float) -> float:
    """The bucket edge under which samples count as fast, at most ``threshold_ms``."""
    pos = position(threshold_ms)
    return upper_bound(pos - 1) if pos > 0 else 0.0


def rule_values(slo: Slo, counts: Mapping[int, Counts]) -> list[tuple[str, float | None, int]]:
    """(rule, burn of both windows (the lower), events in the short window) for each rule.

    ``counts`` holds (bad, total) by scaled window seconds (``window_seconds``' values).
    """
    seconds = window_seconds(slo)
    found = []
    for rule in BURN_RULES:
        long_bad, long_total = counts[seconds[rule.long_s]]
        short_bad, short_total = counts[seconds[rule.short_s]]
        rates = (
            burn(long_bad, long_total, slo.objective),
            burn(short_bad, short_total, slo.objective),
        )
        value = None if None in rates else min(r for r in rates if r is not None)
        found.append((rule.rule, value, short_total))
    return found


def _label(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.0f}s"


# ---------------------------------------------------------------- answers


class RuleNow(FrozenModel):
    """One burn-rate rule of an SLO now."""

    rule: str
    burn: float | None = Field(description="The lower burn of its two windows; null: no events.")
    above: float = Field(description="It fires above this burn rate.")
    firing: bool = Field(description="Both windows burn above it now (alerts add hysteresis).")


class SloStatus(FrozenModel):
    """An SLO with its error budget over the period and its burn rates now."""

    name: str
    kind: SloKind
    target: str
    objective: float
    threshold_ms: float | None = None
    counted_under_ms: float | None = Field(
        default=None, description="Latency: the histogram bucket edge fast samples are under."
    )
    period_days: float
    events: int = Field(description="Events in the period (rolling, up to now).")
    bad: int
    sli: float | None = Field(description="Good share over the period; null: no events.")
    budget_left: float = Field(
        description="Share of the period's error budget left: 1 - bad / allowed; negative "
        "once overspent."
    )
    burn: dict[str, float | None] = Field(description="Burn rate by window (1 = on budget).")
    rules: list[RuleNow]
    alert: AlertLevel = Field(description="page: a critical rule fires; ticket: the slow one.")


def slo_status(slo: Slo, period: Counts, counts: Mapping[int, Counts]) -> SloStatus:
    """The status of ``slo`` from (bad, total) over its period and its rule windows."""
    bad, total = period
    allowed = total * (1 - slo.objective)
    levels = {r.rule: r for r in BURN_RULES}
    rules = [
        RuleNow(
            rule=rule,
            burn=_round(value),
            above=levels[rule].factor,
            firing=value is not None and value > levels[rule].factor,
        )
        for rule, value, _ in rule_values(slo, counts)
    ]
    firing = [levels[r.rule].severity for r in rules if r.firing]
    return SloStatus(
        name=slo.name,
        kind=slo.kind,
        target=slo.target,
        objective=slo.objective,
        threshold_ms=slo.threshold_ms,
        counted_under_ms=(
            _round(counted_under(slo.threshold_ms)) if slo.threshold_ms is not None else None
        ),
        period_days=slo.period_days,
        events=total,
        bad=bad,
        sli=_round((total - bad) / total, 6) if total else None,
        budget_left=round(1 - bad / allowed, 4) if allowed else 1.0,
        burn={
            _label(seconds): _round(burn(*counts[seconds], slo.objective))
            for seconds in sorted(set(window_seconds(slo).values()))
        },
        rules=rules,
        alert="page" if "critical" in firing else "ticket" if firing else "none",
    )


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else float(f"{value:.{digits}g}")


class SloList(FrozenModel):
    """The answer to list_slos."""

    slos: list[SloStatus]
    note: str = ""


class SloChange(FrozenModel):
    """The answer to set_slo: what is stored (or would be), its status, and a dry run's replay."""

    slo: Slo
    status: SloStatus
    dry_run: bool
    replaced: bool = Field(
        description="An SLO of this name existed (and was, or would be, replaced)."
    )
    replay: dict[str, ReplaySummary] | None = Field(
        default=None, description="Dry run: each rule's alerts over the stored history."
    )
    note: str = ""


def replay_note(replays: Mapping[str, ReplaySummary], hours: float) -> str:
    """A sentence saying how the rules would have behaved over the replayed hours."""
    if not any(r.evaluations for r in replays.values()):
        return "no stored history for this SLO yet: nothing to replay"
    fired = [f"{rule} {r.fired}" for rule, r in replays.items()]
    return f"over the last {hours:g} h the rules would have fired: " + ", ".join(fired)


def history_times(slo: Slo, end: float, hours: float) -> Sequence[float]:
    """When a dry run evaluates: every step of the fastest rule's short window, back ``hours``."""
    step = max(60, min(window_seconds(slo).values()))
    last = end // step * step
    return [last - k * step for k in range(int(hours * 3600 // step), -1, -1)]
