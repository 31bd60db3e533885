"""skyfence delivery side: airspace events in, alerts out (console, Slack, Telegram, webhooks).

Modules in data-flow order (pure ones import no Kafka, HTTP or metrics library;
``tests/unit/test_purity.py`` checks it):

- ``notifier``        its own Faust app (consumer group, outbox table; ``skyfence worker
                      --role notifier``, or beside the tracker with ``--role all``): reads
                      the events topic, dedupes through the outbox, routes, enriches, and
                      hands each alert to its channel's delivery worker
- ``routing_config``  the routing file: channels, rules, mutes, cooldown; parsed from TOML
                      and validated at start-up (pure)
- ``routing``         routing decisions: mutes, rules in order, cooldowns (pure)
- ``enrich``          who the aircraft is (once per event: registration, type, operator,
                      State, watchlists), distance to the boundary, local time, map
- ``icao``            ICAO address -> State of registry (pure)
- ``nnumber``         US address -> N-number, by the FAA's rule (pure)
- ``aircraftdb``      OpenSky aircraft database CSV -> registration, type, operator (pure)
- ``watchlist``       plane-alert-db or the desk's own CSV -> the aircraft a desk cares
                      about (pure)
- ``reload``          watchlist and database files re-read in the background on change
- ``units``           altitude, speed, track, distance and time in words (pure)
- ``formatting``      event -> the console line (pure)
- ``render``          event -> Slack Block Kit, Telegram HTML, webhook JSON (pure)
- ``signing``         webhook signatures: sign and verify (pure)
- ``maps``            an offline PNG map of the event (pure)
- ``outbox``          one record per (event, channel): what was sent (pure)
- ``escalation``      priority alerts: waiting -> acknowledged | escalated, deadlines as
                      data; button payloads read (pure)
- ``acks``            the Acknowledge button's handler (chat transports call it)
- ``delivery``        one loop per channel: rate limit, send, retry with backoff, give up
- ``ratelimit``, ``retry``   token buckets and backoff delays, time passed in (pure)
- ``channels``        one adapter per destination behind the
                      :class:`~alerts.channels.base.Channel` protocol: ``console``, ``slack``,
                      ``telegram``, ``webhook`` (the last three on the ``http`` base);
                      ``ListChannel`` is the shipped fake for tests
- ``responses``       (channel, status, headers, body) -> delivered or ``DeliveryError`` (pure)
- ``secrets``         secrets whose every printed form is ``***``
- ``metrics``         Prometheus metrics built on an injected registry
- ``config``          delivery settings from the environment; builds channels and routing
- ``runner``, ``cli``  process wiring and the ``skyfence`` command
- ``errors``          the one error hierarchy

Public errors (:mod:`alerts.errors`): ``AlertsError`` (the root), ``AlertsConfigError`` (also a
:class:`streams.errors.ConfigError`) and its subclass ``RoutingConfigError`` (``where``,
``key``, ``reason``), ``DeliveryError`` (``channel``, ``reason``, ``retriable``,
``retry_after_s``).

``alerts`` may import ``streams``; ``streams`` never imports ``alerts``.
"""
