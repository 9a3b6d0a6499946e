"""The store that lets processes share data (a SQLite file, or PostgreSQL across hosts):
schema, flush, retention, window queries.

Bucket rows live in three tiers side by side (10 s, 1 min, 1 h): each flush adds its deltas
to the row of every tier, so a window of any length reads whole hours from the 1 h tier and
only its edges from the finer ones. Rows are keyed by a per-process source id, so writers
never touch each other's rows; a query merges the rows of all sources.

``Storage`` (``store``) is made of one part per group of tables (``series``, ``buckets``,
``folded``, ``raw``, ``alerts``, ``resources``) over one connection and one all-or-nothing
write path (``base``); ``schema`` opens the file. ``open_storage`` (``engine``) opens a store
on its engine: this SQLite file, or a PostgreSQL database (``postgres``), whose
``PostgresStorage`` runs the same parts' statements.
"""

from perf_mcp.storage.buckets import SeriesAgg, plan_clause
from perf_mcp.storage.engine import open_storage, without_password
from perf_mcp.storage.raw import RawAgentRun, RawToolCall
from perf_mcp.storage.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, StoreError
from perf_mcp.storage.store import FlushBatch, Storage

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "FlushBatch",
    "RawAgentRun",
    "RawToolCall",
    "SeriesAgg",
    "Storage",
    "StoreError",
    "open_storage",
    "plan_clause",
    "without_password",
]
