"""The investigation tools: deploy markers, and what changed between two windows."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from perf_mcp.core.compare import Baseline, WindowComparison
from perf_mcp.core.explain import Explanation
from perf_mcp.core.models import MAX_NOTE_LENGTH, DeployMarker
from perf_mcp.core.validation import Name
from perf_mcp.server.arguments import MAX_LIMIT, WindowArg
from perf_mcp.server.calls import in_thread
from perf_mcp.server.runtime import Runtime


class InvestigateTools:
    """mark_deploy and compare_windows over the runtime's Monitor."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def mark_deploy(
        self,
        version: Annotated[Name, Field(description='What went out, e.g. "v2.3.1" or a commit.')],
        note: Annotated[str | None, Field(max_length=MAX_NOTE_LENGTH)] = None,
    ) -> DeployMarker:
        """Mark a deploy now. Summaries list it; compare_windows(baseline="deploy") compares
        either side of the last one."""
        return await in_thread(self.runtime.monitor.mark_deploy, version, note)

    async def compare_windows(
        self,
        window: WindowArg = "1h",
        baseline: Annotated[
            Baseline,
            Field(
                description='"previous" window, the same window "24h" or "7d" earlier, or '
                '"deploy": before vs after the last deploy marker.'
            ),
        ] = "previous",
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most subjects.")] = 10,
    ) -> WindowComparison:
        """What changed vs a baseline, per endpoint, agent and tool: rate, error rate,
        p50/p95/p99 (ms), tokens and cost per run; largest change first. Only changes with
        50+ samples each side, a 1.5x ratio and a real absolute change. Mean CPU and memory
        side by side."""
        return await in_thread(self.runtime.monitor.compare_windows, window, baseline, limit)

    async def explain(
        self,
        window: WindowArg = "1h",
        subject: Annotated[
            Name | None,
            Field(description='An endpoint ("/search" or "GET /search"), agent or tool.'),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most findings.")] = 10,
    ) -> Explanation:
        """What is anomalous now vs the 12 windows before it (median and MAD; same gates as
        compare_windows): endpoints, agents, tools, CPU, memory; all moved together. Each
        finding names the next call; deploys in the window are listed."""
        return await in_thread(self.runtime.monitor.explain, window, subject, limit)
