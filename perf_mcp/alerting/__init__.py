"""Alerting: the manager that evaluates the rules on a schedule, where its values come from,
where its state is kept, and who hears about it.

- ``manager``: ``AlertManager``, the evaluation loop, alert state, thresholds, acknowledgement;
- ``sources``: ``monitor_source`` (values now) and ``monitor_history`` (values in the stored
  past, for dry runs), both over the Monitor's public query API;
- ``store``: the ``AlertStore`` protocol and ``MemoryAlertStore``;
- ``announce``: Logfire logging and subscribers; ``webhook``: ``WebhookNotifier``.

>>> import anyio
>>> from perf_mcp import Monitor
>>> async def main() -> None:
...     with Monitor(":memory:") as monitor:
...         async with AlertManager(monitor_source(monitor), interval_s=10) as alerts:
...             events = await alerts.evaluate_once()
...             print(events, alerts.list_alerts())
>>> anyio.run(main)
[] []
"""

from perf_mcp.alerting.announce import Subscriber
from perf_mcp.alerting.manager import AlertManager
from perf_mcp.alerting.sources import (
    HistoryPoint,
    HistorySource,
    Observation,
    ObservationSource,
    Observed,
    monitor_history,
    monitor_source,
)
from perf_mcp.alerting.store import AlertStore, MemoryAlertStore
from perf_mcp.alerting.webhook import WebhookNotifier

__all__ = [
    "AlertManager",
    "AlertStore",
    "HistoryPoint",
    "HistorySource",
    "MemoryAlertStore",
    "Observation",
    "ObservationSource",
    "Observed",
    "Subscriber",
    "WebhookNotifier",
    "monitor_history",
    "monitor_source",
]
