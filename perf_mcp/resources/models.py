"""What a resource reading looks like: the machine, its disks and the watched processes.

A reading psutil cannot give (not on this platform, or for lack of permission) is ``None``
with the reason in ``unavailable``: never a made-up 0.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """A frozen answer model: readings do not change once taken."""

    model_config = ConfigDict(frozen=True)


class DiskUsage(Answer):
    """Space on the filesystem holding ``path``."""

    path: str
    total_bytes: int | None = None
    used_bytes: int | None = None
    free_bytes: int | None = None
    percent: float | None = None
    unavailable: str | None = Field(default=None, description="Why the numbers are missing.")


class ProcessUsage(Answer):
    """One process: this server, or a PID the user named."""

    pid: int
    name: str | None = None
    rss_bytes: int | None = None
    cpu_percent: float | None = Field(default=None, description="100 = one core busy.")
    threads: int | None = None
    open_files: int | None = None
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Field name -> why it is missing."
    )


class ResourceSample(Answer):
    """One reading of the machine and of the watched processes."""

    timestamp: float = Field(description="Unix seconds.")
    cpu_percent: float | None = Field(
        default=None, description="System CPU, 0..100: the mean of cpu_per_core."
    )
    cpu_per_core: list[float] | None = None
    cpu_count: int | None = None
    memory_total_bytes: int | None = None
    memory_available_bytes: int | None = None
    memory_percent: float | None = None
    swap_total_bytes: int | None = None
    swap_used_bytes: int | None = None
    swap_percent: float | None = None
    disks: list[DiskUsage] = []
    disk_read_bytes_per_s: float | None = None
    disk_write_bytes_per_s: float | None = None
    net_sent_bytes_per_s: float | None = None
    net_recv_bytes_per_s: float | None = None
    load_1: float | None = None
    load_5: float | None = None
    load_15: float | None = None
    process_count: int | None = None
    processes: list[ProcessUsage] = Field(
        default=[], description="This process first, then the PIDs asked for."
    )
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Field name -> why psutil could not give it."
    )
