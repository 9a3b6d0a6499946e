"""Resources: psutil readings of the machine and the watched processes, sampled and summarized.

``ResourceReader`` reads (blocking), ``ResourceSampler`` reads on a schedule in a worker
thread, ``summarize`` turns stored samples into the ``get_resource_usage`` answer.
"""

from perf_mcp.resources.models import DiskUsage, ProcessUsage, ResourceSample
from perf_mcp.resources.reader import ResourceReader
from perf_mcp.resources.sampler import ResourceSampler
from perf_mcp.resources.summary import MetricStats, ResourceSummary, summarize

__all__ = [
    "DiskUsage",
    "MetricStats",
    "ProcessUsage",
    "ResourceReader",
    "ResourceSample",
    "ResourceSampler",
    "ResourceSummary",
    "summarize",
]
