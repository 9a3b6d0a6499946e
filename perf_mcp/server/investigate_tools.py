"""The investigation tools: deploy markers, and what changed between two windows."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from perf_mcp.core.compare import Baseline, WindowComparison
from perf_mcp.core.explain import Explanation
from perf_mcp.core.models import MAX_NOTE_LENGTH, DeployMarker
from perf_mcp.core.validation import Name
from perf_mcp.server.arguments import MAX_LIMIT, WindowArg
from perf_mcp.server.auth import require_write
from perf_mcp.server.calls import in_thread
from perf_mcp.server.runtime import Runtime


class ExplanationPage(Explanation):
    total: int = Field(description="Findings in all, before `limit`.")


class InvestigateTools:
    """mark_deploy and compare_windows over the runtime's Monitor."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def mark_deploy(
        self,
        version: Annotated[Name, Field(description='e.g. "v2.3.1" or a commit.')],
        note: Annotated[str | None, Field(max_length=MAX_NOTE_LENGTH)] = None,
    ) -> DeployMarker:
        """Mark a deploy now, for summaries and compare_windows(baseline="deploy")."""
        require_write("mark_deploy")
        return await in_thread(self.runtime.monitor.mark_deploy, version, note)

    async def compare_windows(
        self,
        window: WindowArg = "1h",
        baseline: Annotated[
            Baseline,
            Field(
                description='The window before, the same one "24h" or "7d" earlier, or '
                '"deploy": either side of the last deploy.'
            ),
        ] = "previous",
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most subjects.")] = 10,
    ) -> WindowComparison:
        """What changed vs a baseline: significant changes in rate, errors, latency, tokens
        and cost per endpoint, agent and tool, largest first; CPU and memory side by side."""
        return await in_thread(self.runtime.monitor.compare_windows, window, baseline, limit)

    async def explain(
        self,
        window: WindowArg = "1h",
        subject: Annotated[
            Name | None,
            Field(description='An endpoint ("/search" or "GET /search"), agent or tool.'),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most findings.")] = 10,
    ) -> ExplanationPage:
        """Why is it slow now: what is anomalous vs the 12 windows before, what moved with it,
        deploys in the window, and the next call to make."""
        found = await in_thread(self.runtime.monitor.explain, window, subject, MAX_LIMIT)
        findings = found.findings  # all of them, to count; then cut like the Monitor would
        cut = {"findings": findings[:limit], "deploys": found.deploys[:limit]}
        counted = {"truncated": len(findings) > limit, "total": len(findings)}
        return ExplanationPage(**{**dict(found), **cut, **counted})
