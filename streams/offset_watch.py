"""Make a consumer's offset reset loud: counted, and logged as a warning.

When a fetch position is no longer in the log (records deleted by retention or by
DeleteRecords while a worker was still behind them), aiokafka resets it (skyfence: to the
earliest retained offset) and says so only at INFO. Every record between the old position
and the new one is lost to the worker. The one hint aiokafka gives is that log line. This
filter on aiokafka's fetcher logger counts each reset per topic
(``skyfence_consumer_offset_resets_total``) and raises the line to WARNING with what it
means. Nothing else about aiokafka's logging changes. Only the fetcher logger drops to INFO,
so that the notice is made at all.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["FETCHER_LOGGER", "OffsetResetWatch"]

#: aiokafka's logger for fetch results, offset resets included.
FETCHER_LOGGER = "aiokafka.consumer.fetcher"

_MESSAGE = (
    "fetch offset %s of %s is out of range (records deleted by retention or DeleteRecords, "
    "or the topic re-created): the consumer resets to the earliest retained offset, and "
    "records it had not read are lost to it"
)


class OffsetResetWatch(logging.Filter):
    """Counts aiokafka's "out of range, resetting offset" notices into ``counter`` (a
    Prometheus counter with a ``topic`` label) and raises them to WARNING."""

    def __init__(self, counter: Any) -> None:
        super().__init__()
        self._counter = counter
        self.resets = 0

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and "out of range" in msg and "resetting offset" in msg:
            args = record.args if isinstance(record.args, tuple) else ()
            offset, tp = (*args, None, None)[:2]
            topic = getattr(tp, "topic", None) or "unknown"
            self._counter.labels(topic).inc()
            self.resets += 1
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = _MESSAGE, (offset, tp)
        return True

    def install(self) -> None:
        """Attach to aiokafka's fetcher logger (and let it make INFO records)."""
        logger = logging.getLogger(FETCHER_LOGGER)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addFilter(self)

    def remove(self) -> None:
        logging.getLogger(FETCHER_LOGGER).removeFilter(self)
