"""Settings: every PERF_MCP_* environment variable, its default and its meaning, in one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # the addresses served without a token

# When a person confirms a threshold change through MCP elicitation (server/confirm.py).
ConfirmPolicy = Literal["ask", "require", "off"]
# A list given in one environment variable: "a.example,b.example:8765".
CommaList = Annotated[list[str], NoDecode]


def default_db_path() -> Path:
    """The store a newcomer gets: a file in the user's data directory."""
    return Path(platformdirs.user_data_dir("perf-mcp", appauthor=False)) / "perf.db"


class Settings(BaseSettings):
    """perf-mcp configuration; tests pass values directly instead of the environment."""

    model_config = SettingsConfigDict(env_prefix="PERF_MCP_", extra="ignore")

    db: str = Field(
        default_factory=lambda: str(default_db_path()),
        description="SQLite store path, or a postgresql:// URL for a store shared by hosts; "
        '":memory:" for a private in-process store.',
    )
    url: str | None = Field(
        default=None,
        description="perf-mcp server (or OTLP receiver) to push records to over OTLP/HTTP, "
        "instead of writing a store here.",
    )
    flush_interval_s: float = Field(
        default=1.0, ge=0.05, le=60, description="Seconds between writes of recorded data."
    )
    series_budget: int = Field(
        default=2000, ge=1, le=100_000, description="Series per kind before names fold."
    )
    retention_10s_h: float = Field(default=6, gt=0, description="Hours of 10 s buckets kept.")
    retention_1m_d: float = Field(default=7, gt=0, description="Days of 1 min buckets kept.")
    retention_1h_d: float = Field(default=90, gt=0, description="Days of 1 h buckets kept.")
    buffer_samples: int = Field(
        default=200_000,
        ge=1000,
        le=10_000_000,
        description="Samples of each kind queued between folds before new ones are dropped.",
    )
    raw_records: int = Field(
        default=1000, ge=10, le=1_000_000, description="Raw agent runs / tool calls kept."
    )

    sample_interval_s: float = Field(
        default=30, ge=1, le=3600, description="Seconds between resource samples."
    )
    alert_interval_s: float = Field(
        default=10, ge=1, le=3600, description="Seconds between alert rule evaluations."
    )
    webhook_url: str | None = Field(
        default=None, description="URL that receives a JSON POST for every alert transition."
    )
    confirm_thresholds: ConfirmPolicy = Field(
        default="ask",
        description='Threshold changes confirmed by a person (MCP elicitation): "ask" clients '
        'that can, "require" it of every change, or "off".',
    )
    allow_private_webhook: bool = Field(
        default=False,
        description="Let the webhook POST to loopback, private, link-local or metadata addresses.",
    )
    watch_pids: list[int] = Field(
        default_factory=list, description="Process ids to sample besides the server's own."
    )
    disk_paths: list[str] = Field(
        default_factory=list, description="Mount points whose disk usage is sampled."
    )

    token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the HTTP server: every tool and route "
        "(and what a Monitor pushing to PERF_MCP_URL sends).",
    )
    read_token: SecretStr | None = Field(
        default=None, description="Bearer token that may only query (no records, no changes)."
    )
    token_file: str | None = Field(default=None, description="File holding the full token.")
    read_token_file: str | None = Field(default=None, description="File holding the read token.")
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description='Host headers the HTTP server answers ("host:port", "host:*"); '
        "default: the bound address.",
    )
    allowed_origins: CommaList = Field(
        default_factory=list,
        description='Origin headers allowed ("https://host", "http://host:*"); '
        "default: the allowed hosts over http.",
    )

    toolsets: CommaList = Field(
        default_factory=list,
        description='MCP toolsets listed: "all" or names such as "core,record,investigate" '
        "(perf_mcp/toolsets.py); default: core,record.",
    )

    @field_validator("allowed_hosts", "allowed_origins", "toolsets", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def retention_s(self) -> dict[int, float]:
        """Seconds each bucket tier is kept, by tier width in seconds."""
        return {
            10: self.retention_10s_h * 3600,
            60: self.retention_1m_d * 86400,
            3600: self.retention_1h_d * 86400,
        }
