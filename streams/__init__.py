"""skyfence stream side: ingest ADS-B positions, track aircraft, emit airspace events.

Modules in data-flow order (pure modules import only the standard library, orjson, numpy and
shapely; ``tests/unit/test_purity.py`` checks it):

- ``sources``       one pure parser per feed format; the ``Source`` protocol (async iterator of
                    positions and rejections) with ``FileSource`` and ``ListSource`` (pure but
                    for file I/O)
- ``replay``        recorded files -> reports; offline ``evaluate`` (pure but for file I/O)
- ``models``        PositionReport, AirspaceEvent, BadLine: the records (pure)
- ``codec``         orjson encode/decode with validation: the wire contract (pure)
- ``producer``      aiokafka publisher keyed by icao24, Kafka timestamp = position time
- ``front``         the stateless front stage: single messages from a raw topic -> batches
                    on the positions topic, offsets committed after acknowledgement
- ``topics``        creates the pipeline's topics with the right partition counts
- ``app``           the Faust app, topics, table and the tracker agent (thin shell)
- ``scheduler``     the due queue: timers fire against the watermark before each position (pure)
- ``tracking``      per-aircraft state machine ``Tracker.step`` (pure, time is data)
- ``geo``           geodesy: distance, bearing, dead-reckoned destination (pure)
- ``zones``         zone polygons, point-in-zone, segment crossings, GeoJSON loading (pure)
- ``text``          free text (zone ids, names) made safe to print on one line (pure)
- ``state_codec``   the tracker table's value format: per-aircraft state <-> bytes (pure)
- ``faust_tuning``, ``offset_watch``   start-up/latency fixes and loud offset resets for Faust
- ``metrics``       Prometheus metrics built on an injected registry
- ``config``        settings, typed and frozen, read from the environment at the entry point
- ``embedded``      the embedded Tansu broker for the demo (the ``demo`` extra)
- ``errors``        the one error hierarchy

Public errors (:mod:`streams.errors`): ``SkyfenceError`` (the root), ``DecodeError``
(``reason``, ``detail``), ``ZoneError``, ``ConfigError``, ``BrokerError`` and its subclass
``BrokerUnavailable`` (``reason``).

``streams`` never imports ``alerts``.
"""
