"""Histograms stored before perf-mcp took OpenTelemetry's buckets, converted by a migration.

Format 1 (blob byte 0) had perf-mcp's own log buckets: ``gamma = 1.01 / 0.99``, bucket ``p``
holding ``[1e-3 * gamma**(p-1), 1e-3 * gamma**p)`` ms. Each old bucket's count moves to the
new bucket of its representative value (clamped to the row's min and max), so counts, min and
max stay exact and a quantile moves by at most the old bucket's 1% plus the new 0.54%.
"""

from __future__ import annotations

import math
import sqlite3
import struct

from perf_mcp.core.sketch import LogHistogram, position

OLD_VERSION = 1
_GAMMA = 1.01 / 0.99
_HEADER = struct.Struct("<BBHHQdd")  # version, kind, lowest bucket, items, count, min, max
_PAIR = struct.Struct("<HQ")
_EMPTY, _SPARSE, _DENSE64, _DENSE32 = 0, 1, 2, 3
_DENSE = {_DENSE64: "Q", _DENSE32: "I"}
_TABLES = ("request_buckets", "run_buckets")
_KEY = "tier, ts, series_id, source"
_BATCH = 5000


def old_representative(pos: int) -> float:
    """The value format 1 reported for its bucket ``pos`` (ms)."""
    if pos == 0:
        return 0.0
    lower = 1e-3 * math.pow(_GAMMA, pos - 1)
    return lower * 2 * _GAMMA / (_GAMMA + 1)


def convert(blob: bytes) -> bytes:
    """A format-1 blob in the current format, every count kept."""
    version, kind, lo, n, count, low, high = _HEADER.unpack_from(blob)
    if version != OLD_VERSION or kind not in (_EMPTY, _SPARSE, *_DENSE):
        raise ValueError(f"not a format-1 histogram (version {version}, kind {kind})")
    body = blob[_HEADER.size :]
    if kind == _SPARSE:
        pairs = list(_PAIR.iter_unpack(body))
    elif kind in _DENSE:
        pairs = list(enumerate(struct.unpack(f"<{n}{_DENSE[kind]}", body), lo))
    else:
        pairs = []
    h = LogHistogram()
    for pos, c in pairs:
        if c:
            new = position(min(max(old_representative(pos), low), high))
            h.bins[new] = h.bins.get(new, 0) + c
    h.count = sum(h.bins.values())
    if h.count != count:
        raise ValueError(f"its buckets hold {h.count} samples, its header says {count}")
    if count:
        h.min, h.max = low, high
    return h.to_bytes()


def convert_store(conn: sqlite3.Connection) -> None:
    """The migration step: every format-1 blob of the bucket tables rewritten in place, in
    batches (the caller's transaction makes it all or nothing)."""
    for table in _TABLES:
        select = f"SELECT {_KEY}, hist FROM {table}"
        after: tuple[int, ...] | None = None
        while True:
            where = "" if after is None else f" WHERE ({_KEY}) > (?, ?, ?, ?)"
            rows = conn.execute(
                f"{select}{where} ORDER BY {_KEY} LIMIT {_BATCH}", after or ()
            ).fetchall()
            if not rows:
                break
            updates = []
            for *key, blob in rows:
                if blob[:1] == bytes([OLD_VERSION]):
                    try:
                        updates.append((convert(blob), *key))
                    except (ValueError, struct.error) as exc:
                        raise ValueError(
                            f"{table} row ({', '.join(map(str, key))}) has a histogram that "
                            f"cannot be converted: {exc}"
                        ) from None
            conn.executemany(f"UPDATE {table} SET hist = ? WHERE ({_KEY}) = (?, ?, ?, ?)", updates)
            after = tuple(rows[-1][:4])
