"""Chat transports and the command handler's shell (issue 17, chat commands).

None of them needs a public inbound endpoint, except the optional signed Slack endpoint:

- :mod:`alerts.chat.telegram`: Telegram Bot API ``getUpdates`` long polling;
- :mod:`alerts.chat.slack`: Slack Socket Mode (slack_sdk's aiohttp ``SocketModeClient``) and,
  as the alternative, ``POST /slack/commands`` and ``/slack/interactive`` on the worker's
  operations server, verified with Slack's signing secret;
- :mod:`alerts.chat.handler`: :class:`~alerts.chat.handler.ChatCommands`, the
  :class:`~alerts.interact.InteractionHandler` the transports call: it answers commands with
  :class:`alerts.commands.CommandDesk`, writes mutes and the desk's watchlist to the desk-state
  topic, audit-logs every command and passes button presses on;
- :mod:`alerts.chat.store`: where desk state and audit records go (Kafka, or memory in tests).

The transports turn platform payloads into :mod:`alerts.interact` values; the pure parsing
functions in each module are tested without a network, the loops against local fake servers.
"""

from __future__ import annotations
