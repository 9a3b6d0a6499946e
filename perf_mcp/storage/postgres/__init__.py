"""The store on PostgreSQL, for several hosts sharing one store.

The table parts' statements run as written (``connection``); what PostgreSQL needs otherwise
is in ``schema`` (tables, keys) and ``tables`` (statements per table kind).
"""

from perf_mcp.storage.postgres.store import PostgresStorage

__all__ = ["PostgresStorage"]
