"""Deploys seen in OTLP: a ``service.version`` a service did not send before."""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_SERVICES = 256  # services whose versions a VersionWatch remembers (the least recent go)
MAX_VERSIONS = 8  # versions remembered per service: old instances of a rolling deploy


class VersionWatch:
    """Which service.version each service sent; says when one is new (bounded memory).

    The first version seen of a service is taken as the one running; a version it did not
    send before (among its last MAX_VERSIONS) is new. Old and new instances taking turns
    during a rolling deploy make one marker, not one per export.

    >>> watch = VersionWatch()
    >>> watch.new("shop", "1.0"), watch.new("shop", "1.1"), watch.new("shop", "1.0")
    (False, True, False)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # exports are recorded in worker threads
        self._versions: OrderedDict[str, list[str]] = OrderedDict()

    def new(self, service: str, version: str) -> bool:
        """Remember ``version`` of ``service``; True when the service sent another before."""
        with self._lock:
            known = self._versions.get(service)
            if known is None:
                self._versions[service] = [version]
                if len(self._versions) > MAX_SERVICES:
                    self._versions.popitem(last=False)
                return False
            self._versions.move_to_end(service)
            if version in known:
                return False
            known.append(version)
            del known[:-MAX_VERSIONS]
            return True
