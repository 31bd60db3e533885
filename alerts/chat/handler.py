"""The command handler's shell: clock, desk-state writes, audit log, button hand-off.

:class:`ChatCommands` is the :class:`~alerts.interact.InteractionHandler` every chat
transport calls. For a command it asks :class:`alerts.commands.CommandDesk` (pure) what to
answer at the current time, writes the state changes (mutes, the desk's watchlist) to the
desk store and applies them locally, and audit-logs the command whatever its outcome. A
button press from an allowed chat goes to the injected ``on_button`` (acknowledge, issue 17's
other half); a refused one is answered and audited here.

:class:`WorkerView` is the read-only :class:`~alerts.commands.DeskView` of a worker: the desk
page's model (:class:`alerts.desk_http.DeskServer`: aircraft, timelines), the enricher (who
an aircraft is, registrations of the watchlists) and the metrics registry (``/status``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from alerts.chat.store import DeskStore
from alerts.commands import CommandDesk, DeskState, Outcome, audit_record
from alerts.interact import Actor, ButtonPress, Command, Reply

__all__ = ["ChatCommands", "WorkerView", "buttons_not_enabled", "status_from_registry"]

log = logging.getLogger(__name__)

ButtonHandler = Callable[[ButtonPress], Awaitable[Reply]]


async def buttons_not_enabled(press: ButtonPress) -> Reply:
    """The default ``on_button`` until acknowledgements are configured."""
    return Reply("Acknowledgements are not enabled on this skyfence.", ok=False)


class ChatCommands:
    """Answers commands and passes button presses on (module docstring)."""

    def __init__(
        self,
        desk: CommandDesk,
        store: DeskStore,
        *,
        on_button: ButtonHandler = buttons_not_enabled,
        clock: Callable[[], float] = time.time,
        apply: Callable[[str, bytes | None], object] | None = None,
    ) -> None:
        self.desk = desk
        self.store = store
        #: Takes in a state record once written (default: into ``desk.state``).
        self.apply = apply or desk.state.apply
        self.on_button_press = on_button
        self._clock = clock

    @property
    def state(self) -> DeskState:
        """The mutes and desk watchlist the commands read."""
        return self.desk.state

    async def on_command(self, command: Command) -> Reply:
        outcome = self.desk.handle(command, self._clock())
        reply = outcome.reply
        try:
            for key, value in outcome.changes:
                await self.store.put(key, value)
                self.apply(key, value)  # at once: the next command sees it
        except Exception:
            log.exception("chat: could not write desk state for /%s", command.name)
            reply = Reply("Sorry, that could not be saved; nothing changed. Try again.", ok=False)
            outcome = Outcome(reply, audit={**outcome.audit, "outcome": "error"})
        await self._audit(outcome)
        log.info(
            "chat command /%s from %s:%s (%s): %s",
            command.name, command.actor.platform, command.actor.user_id,
            command.actor.chat_id, outcome.audit.get("outcome"),
        )  # fmt: skip
        return reply

    async def on_button(self, press: ButtonPress) -> Reply:
        now_s = self._clock()
        refused = self.desk.authorise_button(press, now_s)
        if refused is not None:
            await self._audit(refused)
            log.warning(
                "chat: button %s refused for %s:%s in %s",
                press.action, press.actor.platform, press.actor.user_id, press.actor.chat_id,
            )  # fmt: skip
            return refused.reply
        reply = await self.on_button_press(press)
        await self._audit(
            Outcome(
                reply,
                audit=audit_record(
                    press.actor,
                    f"button:{press.action}",
                    (press.event_id,),
                    "ok" if reply.ok else "error",
                    now_s,
                    reply.text[:200],
                ),
            )
        )
        return reply

    async def audit_refused(
        self, actor: Actor, name: str, args: tuple[str, ...], detail: str
    ) -> None:
        """Audit a request refused before it became a command (a forged Slack signature)."""
        reply = Reply("refused", ok=False)
        await self._audit(
            Outcome(reply, audit=audit_record(actor, name, args, "refused", self._clock(), detail))
        )

    async def _audit(self, outcome: Outcome) -> None:
        try:
            await self.store.audit(outcome.audit)
        except Exception:  # the answer still goes out; the log line says what was lost
            log.exception("chat: could not write the audit record %s", outcome.audit)


def status_from_registry(registry: Any) -> dict[str, Any]:
    """``/status`` figures from a Prometheus registry: consumer lag (sum over partitions),
    seconds since the last position (the freshest partition), tracked aircraft, and
    ``skyfence_deliveries_total`` summed by outcome."""
    lag: float | None = None
    fresh: float | None = None
    tracked: float | None = None
    deliveries: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "skyfence_consumer_lag_messages":
                lag = (lag or 0.0) + sample.value
            elif sample.name == "skyfence_seconds_since_last_position":
                fresh = sample.value if fresh is None else min(fresh, sample.value)
            elif sample.name == "skyfence_tracked_aircraft":
                tracked = (tracked or 0.0) + sample.value
            elif sample.name == "skyfence_deliveries_total":
                outcome = sample.labels.get("outcome", "?")
                deliveries[outcome] = deliveries.get(outcome, 0.0) + sample.value
    return {
        "lag_messages": None if lag is None else int(lag),
        "since_last_position_s": fresh,
        "tracked_aircraft": None if tracked is None else int(tracked),
        "deliveries": {k: v for k, v in deliveries.items() if v},
    }


class WorkerView:
    """What a worker holds, for the commands (module docstring). ``aircraft`` and
    ``timeline`` come from the desk page's server, ``status`` from ``status()``."""

    def __init__(
        self,
        desk: Any,  # alerts.desk_http.DeskServer
        enricher: Any,  # alerts.enrich.Enricher
        status: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self._desk = desk
        self._enricher = enricher
        self._status = status

    def aircraft(self) -> list[dict[str, Any]]:
        return list(self._desk.aircraft())

    def timeline(self, icao24: str) -> list[dict[str, Any]]:
        return list(self._desk.board.timeline(icao24))

    def by_registration(self, registration: str) -> str | None:
        from alerts.watchlist import Watchlist

        for source in self._enricher.watchlists:
            wl = getattr(source, "value", source)
            if isinstance(wl, Watchlist):
                entry = wl.by_registration(registration)
                if entry is not None and entry.icao24:
                    return str(entry.icao24)
        return None

    def describe(self, icao24: str) -> str:
        facts = self._enricher.facts(icao24)
        parts = [
            facts.registration or "registration ?",
            facts.aircraft_type or "type ?",
            facts.operator or "operator ?",
            f"{facts.country.flag} {facts.country.name}" if facts.country else "country ?",
        ]
        lists = [w.list for w in facts.watchlists]
        if lists:
            parts.append("on " + ", ".join(lists))
        return ", ".join(parts)

    def status(self) -> Mapping[str, Any]:
        return self._status()
