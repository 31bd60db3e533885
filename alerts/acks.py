"""The Acknowledge button's handler: button presses in, acknowledgements out.

The chat transports (Telegram ``getUpdates``, Slack Socket Mode or the signed HTTP endpoint)
turn a press into an :class:`alerts.interact.ButtonPress` (:func:`alerts.escalation.button_from_telegram`
and :func:`alerts.escalation.button_from_slack` read the platforms' payloads) and call
:meth:`AckHandler.on_button`, which answers with a :class:`~alerts.interact.Reply`:

- an actor that is not allowed (a chat or user not configured) -> a refusal (``ok=False``),
  logged, nothing changes;
- an action other than ``ack``, or an event id no priority alert here has -> a refusal;
- the first acknowledgement -> :meth:`alerts.notifier.Notifier.acknowledge`: the record is
  ``acknowledged`` (its escalation cancelled) and "Acknowledged by X" is queued to the
  alert's threads through the outbox (``Reply.extra["posted"] == "thread"``: the transport
  shows the reply to the presser, e.g. as Telegram's ``answerCallbackQuery`` text or a Slack
  ephemeral message, and need not post it again);
- a later one -> "Already acknowledged by X" (idempotent).

Who may acknowledge: by default, anyone in a chat an alert channel posts to (the Telegram
``chat_id`` and the Slack Web API ``channel_id`` of the configured channels: a button can only
be pressed where the alert is); ``allowed_chats`` / ``allowed_users`` replace that (a Slack
incoming webhook's channel id is not in the routing file, so such a desk names it here).
A worker with chat commands configured passes their allow lists as ``access`` instead
(:class:`alerts.chat.runtime.ChatRuntime`): one list of who may act, for commands and buttons.

Commands are not this handler's business (:meth:`on_command` refuses them); the command
handlers answer those.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from alerts.escalation import ACK_ACTION
from alerts.interact import Actor, ButtonPress, Command, Reply
from alerts.notifier import Notifier

__all__ = ["AckHandler"]

log = logging.getLogger(__name__)


class AckHandler:
    """Answers Acknowledge presses on priority alerts (see the module docstring)."""

    def __init__(
        self,
        notifier: Notifier,
        *,
        allowed_chats: Iterable[tuple[str, str]] | None = None,
        allowed_users: Iterable[tuple[str, str]] | None = None,
        clock: Callable[[], float] = time.time,
        access: Callable[[Actor], bool] | None = None,
    ) -> None:
        self.notifier = notifier
        #: When given (the chat commands' allow lists), it alone decides who may acknowledge.
        self._access = access
        if allowed_chats is None:
            allowed_chats = _channel_chats(notifier)
        self.allowed_chats = frozenset((p, str(c)) for p, c in allowed_chats)
        self.allowed_users = frozenset((p, str(u)) for p, u in allowed_users or ())
        self._clock = clock
        #: Presses refused (not allowed, unknown alert, unknown action).
        self.refused = 0

    def allowed(self, actor: Actor) -> bool:
        """Whether ``actor`` may acknowledge: their chat or their user id is allowed."""
        if self._access is not None:
            return self._access(actor)
        return (actor.platform, actor.chat_id) in self.allowed_chats or (
            actor.platform,
            actor.user_id,
        ) in self.allowed_users

    async def on_command(self, command: Command) -> Reply:
        """Commands go to the command handlers, not here."""
        return Reply(f"/{command.name} is not handled here", ok=False)

    async def on_button(self, press: ButtonPress) -> Reply:
        """Acknowledge the alert ``press.event_id`` as ``press.actor`` (module docstring)."""
        actor = press.actor
        if not self.allowed(actor):
            self.refused += 1
            log.warning(
                "refused a button press from %s chat %s user %s",
                actor.platform, actor.chat_id, actor.user_id,
            )  # fmt: skip
            return Reply("You are not allowed to acknowledge alerts here.", ok=False)
        if press.action != ACK_ACTION:
            self.refused += 1
            return Reply(f"Unknown action {press.action[:32]!r}.", ok=False)
        who = actor.user_name or actor.user_id or "someone"
        outcome = self.notifier.acknowledge(press.event_id, who, self._clock())
        if outcome is None:
            self.refused += 1
            return Reply(f"No priority alert {press.event_id[:40]!r} here.", ok=False)
        extra = {"event_id": press.event_id}
        if outcome.changed:
            extra["posted"] = "thread"
        return Reply(outcome.text, extra=extra)


def _channel_chats(notifier: Notifier) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for channel in notifier.channels.values():
        kind = getattr(channel, "kind", "")
        if kind == "telegram":
            out.append(("telegram", str(getattr(channel, "chat_id", ""))))
        elif kind == "slack_api":
            out.append(("slack", str(getattr(channel, "channel_id", ""))))
    return [(p, c) for p, c in out if c]
