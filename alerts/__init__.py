"""skyfence delivery side: airspace events in, alerts out (console, later Slack and Telegram).

- ``formatting``  event -> human text (pure)
- ``channels``    one adapter per destination behind the :class:`~alerts.channels.base.Channel`
                  protocol; ``ListChannel`` is the shipped fake for tests
- ``notifier``    consumes the events topic and delivers each event to every channel once
- ``worker``      runs the tracker and the notifier in one process (``skyfence worker``)
- ``demo``        embedded broker + worker + replay of the seed scenario (``skyfence demo``)
- ``cli``         the ``skyfence`` command

``alerts`` may import ``streams``; ``streams`` never imports ``alerts``.
"""
