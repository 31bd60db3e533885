"""What a desk says back: chat commands and button presses, as plain data (pure).

The chat transports (Telegram ``getUpdates`` long polling, Slack Socket Mode, Slack's signed
HTTP endpoint) turn what a platform sends into these values and hand them to a handler; the
handlers (commands, acknowledge/escalate) answer with a :class:`Reply`. Nothing here does
I/O, reads a clock or imports a platform library, so the handlers are tested with plain
values and the transports with fake platform servers.

- :class:`Actor`: who spoke, where (platform, chat/channel, user).
- :class:`Command`: ``/name args...`` typed in a chat.
- :class:`ButtonPress`: a button on an alert was pressed (``action`` e.g. ``"ack"``), naming
  the alert's ``event_id`` and the platform's reference to the message it sits on.
- :class:`Reply`: the text to answer with, in the same chat (and thread, where there is one).
- :class:`InteractionHandler`: the protocol a handler implements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["Actor", "ButtonPress", "Command", "InteractionHandler", "Platform", "Reply"]

Platform = Literal["slack", "telegram"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sent a command or pressed a button, and where."""

    platform: Platform
    chat_id: str
    user_id: str
    user_name: str = ""


@dataclass(frozen=True, slots=True)
class Command:
    """A chat command: ``name`` without the slash, lower case; ``args`` split on blanks."""

    actor: Actor
    name: str
    args: tuple[str, ...] = ()
    at_s: float = 0.0  # when it was sent (epoch seconds), as the platform says


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A button pressed on an alert message."""

    actor: Actor
    action: str  # e.g. "ack"
    event_id: str
    message_ref: str = ""  # Slack "channel:ts", Telegram "chat_id:message_id"
    at_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer. ``ok=False`` marks a refusal (unknown chat, bad arguments)."""

    text: str
    ok: bool = True
    extra: dict[str, str] = field(default_factory=dict)


class InteractionHandler(Protocol):
    """Answers commands and button presses; transports call it, one call at a time."""

    async def on_command(self, command: Command) -> Reply: ...

    async def on_button(self, press: ButtonPress) -> Reply: ...
