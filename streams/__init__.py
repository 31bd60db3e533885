"""skyfence stream side: ingest ADS-B positions, track aircraft, emit airspace events.

Layout (pure modules import only the standard library, orjson and shapely):

- ``models``    PositionReport, AirspaceEvent: the two wire records (pure)
- ``codec``     orjson encode/decode with validation: the wire contract (pure)
- ``zones``     zone polygons, point-in-zone, segment crossings, GeoJSON loading (pure)
- ``tracking``  per-aircraft state machine ``Tracker.step`` (pure, time is data)
- ``replay``    recorded files -> reports; offline evaluation (pure but for file I/O)
- ``producer``  aiokafka publisher keyed by icao24, Kafka timestamp = position time
- ``app``       the Faust app, topics, table and the tracker agent (thin shell)
- ``metrics``   Prometheus metrics built on an injected registry
- ``brokers``   embedded Tansu and Apache Kafka brokers for the demo, tests and benchmarks

``streams`` never imports ``alerts``.
"""
