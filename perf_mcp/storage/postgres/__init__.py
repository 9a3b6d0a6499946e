"""The store on PostgreSQL, for several hosts sharing one store.

The table parts' statements run as written (``connection``); what PostgreSQL needs otherwise
is in ``schema`` (tables, keys), ``tables`` (statements per table kind), ``partitions`` (the
bucket tables' time partitions) and ``writes`` (how a flush is written and counted once).
"""

from perf_mcp.storage.postgres.store import PostgresStorage

__all__ = ["PostgresStorage"]
