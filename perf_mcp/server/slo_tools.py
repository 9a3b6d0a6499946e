"""The SLO tools: set_slo, list_slos and delete_slo (perf_mcp.core.alerts.slo)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from perf_mcp.core.alerts.slo import BURN_RULES, SloChange, SloKind, SloList, SloScope
from perf_mcp.core.models import InvalidInputError
from perf_mcp.core.validation import Name
from perf_mcp.server.auth import require_write
from perf_mcp.server.calls import in_thread, invalid
from perf_mcp.server.runtime import Runtime


class SloTools:
    """Objectives over the runtime's Monitor; their alerts go through its alert manager."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def set_slo(
        self,
        kind: Annotated[SloKind, Field(description="availability: non-5xx / successful share.")],
        objective: Annotated[float, Field(description="Good share, 0..1 exclusive: 0.999.")],
        scope: Annotated[SloScope, Field(description="all = every HTTP request.")] = "all",
        subject: Annotated[
            Name | None, Field(description='"GET /checkout", an agent or a tool.')
        ] = None,
        threshold_ms: Annotated[float | None, Field(description="latency: fast is under.")] = None,
        period_days: Annotated[float, Field(description="Rolling period, 1..90 days.")] = 30.0,
        name: Annotated[Name | None, Field(description="Default: subject and kind.")] = None,
        dry_run: Annotated[
            bool, Field(description="Store nothing; replay its burn alerts over 24 h.")
        ] = False,
    ) -> SloChange:
        """Set (or replace) an SLO; it alerts on the SRE workbook's burn rates: 14.4x over
        1 h and 5 min or 6x over 6 h and 30 min page, 1x over 3 d and 6 h is a ticket."""
        if not dry_run:
            require_write("set_slo")
        alerts = self.runtime.alert_manager
        levels = {r.rule: alerts.threshold(r.rule, name) for r in BURN_RULES}
        change = await in_thread(
            self.runtime.monitor.set_slo,
            kind,
            objective,
            scope=scope,
            subject=subject,
            threshold_ms=threshold_ms,
            period_days=period_days,
            name=name,
            dry_run=dry_run,
            levels=levels,
        )
        if not dry_run and alerts.running:
            await alerts.evaluate_once()
        return change

    async def list_slos(self) -> SloList:
        """Each SLO's error budget left over its period, burn rates by window (1 = on
        budget) and which burn-rate alert rules hold now."""
        return await in_thread(self.runtime.monitor.list_slos)

    async def delete_slo(
        self, name: Annotated[Name, Field(description="See list_slos.")]
    ) -> SloList:
        """Delete an SLO (its alerts resolve); answers the SLOs left."""
        require_write("delete_slo")
        monitor = self.runtime.monitor
        if not await in_thread(monitor.delete_slo, name):
            known = [s.name for s in (await in_thread(monitor.list_slos)).slos]
            raise invalid(InvalidInputError(f"no SLO named {name!r}; the SLOs: {known or 'none'}"))
        return await in_thread(monitor.list_slos)
