"""Chat commands in a worker process: settings -> handler, store, transports; start, stop.

:meth:`ChatRuntime.from_settings` returns None unless chat is configured (allowed chats or
users, or a transport enabled), so a worker without chat settings runs exactly as before.
When configured:

- every notifier process follows the desk-state topic, so a mute typed into any worker's
  chat applies to every notifier (:mod:`alerts.chat.store`), and the desk's own watchlist is
  one more watchlist of the enricher (``desk-chat``: routing rules on watchlists see it);
- the transports enabled in *this* process run: Telegram polling (one process per bot: two
  pollers of one bot get HTTP 409 from Telegram), Slack Socket Mode, Slack's signed HTTP
  routes on the operations server (:meth:`install`, before it starts; they answer 503 until
  :meth:`start` has run).

Secrets come from the environment (``NAME`` or ``NAME_FILE``) when the runtime is built and
are held as :class:`~alerts.secrets.Secret`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from alerts.chat.handler import ChatCommands, WorkerView, status_from_registry
from alerts.chat.slack import SLACK_HTTP_ROUTES, SlackHttpEndpoint, SlackSocketMode
from alerts.chat.store import DeskStore, KafkaDeskStore
from alerts.chat.telegram import TelegramPoller
from alerts.commands import Access, CommandDesk, DeskState
from alerts.config import TELEGRAM_TOKEN_ENV, AlertSettings
from alerts.secrets import Secret, secret_from_env
from streams.config import StreamSettings
from streams.errors import ConfigError

__all__ = ["ChatRuntime"]

log = logging.getLogger(__name__)

SLACK_APP_TOKEN_ENV = "SKYFENCE_SLACK_APP_TOKEN"
SLACK_SIGNING_SECRET_ENV = "SKYFENCE_SLACK_SIGNING_SECRET"
SLACK_BOT_TOKEN_ENV = "SKYFENCE_SLACK_BOT_TOKEN"
#: How often mutes that ran out are removed from the desk-state topic (tombstones).
SWEEP_INTERVAL_S = 600.0


class _NotYet:
    """The store and view before :meth:`ChatRuntime.start` (HTTP routes exist already)."""

    async def put(self, key: str, value: bytes | None) -> None:
        raise RuntimeError("chat store not started")

    async def audit(self, record: dict[str, Any]) -> None:
        log.warning("chat: audit record before start dropped: %s", record.get("command"))

    def aircraft(self) -> list[dict[str, Any]]:
        return []

    def timeline(self, icao24: str) -> list[dict[str, Any]]:
        return []

    def by_registration(self, registration: str) -> str | None:
        return None

    def describe(self, icao24: str) -> str:
        return "?"

    def status(self) -> Mapping[str, Any]:
        return {}


class _LateStore:
    def __init__(self) -> None:
        self.target: DeskStore = _NotYet()

    async def put(self, key: str, value: bytes | None) -> None:
        await self.target.put(key, value)

    async def audit(self, record: dict[str, Any]) -> None:
        await self.target.audit(record)


class ChatRuntime:
    """The chat side of one worker (module docstring)."""

    def __init__(
        self,
        alert_settings: AlertSettings,
        *,
        telegram_token: Secret | None = None,
        slack_app_token: Secret | None = None,
        slack_signing_secret: Secret | None = None,
        slack_bot_token: Secret | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = alert_settings
        self.state = DeskState()
        self._store = _LateStore()
        self.desk = CommandDesk(
            Access.parse(alert_settings.chat_allowed_chats, alert_settings.chat_allowed_users),
            self.state,
            _NotYet(),
        )
        self.handler = ChatCommands(self.desk, self._store, clock=clock, apply=self.apply)
        self._telegram_token = telegram_token
        self._slack_app_token = slack_app_token
        self._slack_bot_token = slack_bot_token
        self._clock = clock
        self._signing = slack_signing_secret
        self._http: SlackHttpEndpoint | None = None
        self._enricher: Any = None
        self._desk_list_index: int | None = None
        self._kafka: KafkaDeskStore | None = None
        self._session: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._socket: SlackSocketMode | None = None
        self.started = False

    @classmethod
    def from_settings(
        cls, alert_settings: AlertSettings, env: Mapping[str, str] | None = None
    ) -> ChatRuntime | None:
        """The runtime for these settings, or None when chat is not configured. A transport
        enabled without its secret raises :class:`~streams.errors.ConfigError`."""
        s = alert_settings
        if not (
            s.chat_allowed_chats or s.chat_allowed_users
            or s.chat_telegram or s.chat_slack_socket or s.chat_slack_http
        ):  # fmt: skip
            return None
        env = os.environ if env is None else env

        def need(enabled: bool, name: str, what: str) -> Secret | None:
            if not enabled:
                return None
            try:
                value = secret_from_env(name, env)
            except OSError as exc:
                raise ConfigError(str(exc)) from None
            if value is None:
                raise ConfigError(f"{what} needs {name} (or {name}_FILE)")
            return value

        try:
            bot = secret_from_env(SLACK_BOT_TOKEN_ENV, env)
        except OSError as exc:
            raise ConfigError(str(exc)) from None
        if not (s.chat_allowed_chats or s.chat_allowed_users):
            log.warning("chat commands enabled but no chat or user is allowed: all are refused")
        return cls(
            s,
            telegram_token=need(s.chat_telegram, TELEGRAM_TOKEN_ENV, "SKYFENCE_CHAT_TELEGRAM"),
            slack_app_token=need(
                s.chat_slack_socket, SLACK_APP_TOKEN_ENV, "SKYFENCE_CHAT_SLACK_SOCKET"
            ),
            slack_signing_secret=need(
                s.chat_slack_http, SLACK_SIGNING_SECRET_ENV, "SKYFENCE_CHAT_SLACK_HTTP"
            ),
            slack_bot_token=bot,
        )

    def topics(self, settings: StreamSettings) -> tuple[str, str]:
        """The desk-state and audit topics."""
        return (
            self.settings.chat_state_topic or f"{settings.app_id}.desk",
            self.settings.chat_audit_topic or f"{settings.app_id}.audit",
        )

    # -- state -------------------------------------------------------------------------------

    def apply(self, key: str, value: bytes | None) -> None:
        """Take in one desk-state record (written here or read from the topic)."""
        if self.state.apply(key, value) and key.startswith("watch:"):
            self._refresh_watchlist()

    def attach_enricher(self, enricher: Any) -> None:
        """Make the desk's own watchlist one of ``enricher``'s watchlists (kept current)."""
        self._enricher = enricher
        self._desk_list_index = None
        self._refresh_watchlist()

    def _refresh_watchlist(self) -> None:
        if self._enricher is None:
            return
        watchlist = self.state.watchlist()
        lists = self._enricher.watchlists
        if self._desk_list_index is None:
            self._desk_list_index = len(lists)
            lists.append(watchlist)
        else:
            lists[self._desk_list_index] = watchlist

    async def sweep_expired(self) -> int:
        """Write tombstones for mutes that ran out (compaction then forgets them); returns
        how many. Several workers may sweep the same mute: a tombstone twice is harmless."""
        keys = self.state.expired(self._clock())
        for key in keys:
            await self._store.put(key, None)
            self.apply(key, None)
        return len(keys)

    async def _sweeping(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep_expired()
            except Exception:
                log.exception("chat: could not sweep expired mutes")

    def muted(self, event: Any, now_s: float) -> bool:
        """The notifier's mute check (:attr:`alerts.notifier.Notifier.mutes`)."""
        return self.state.muted(event.icao24, event.callsign, now_s)

    # -- lifecycle ---------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Slack's signed routes on the operations app, when enabled (before it starts)."""
        if self._signing is None:
            return

        async def route(request: web.Request) -> web.StreamResponse:
            if self._http is None:
                return web.Response(status=503, text="skyfence chat is starting\n")
            handler = (
                self._http.commands
                if request.path == SLACK_HTTP_ROUTES[0]
                else self._http.interactive
            )
            return await handler(request)

        for path in SLACK_HTTP_ROUTES:
            app.router.add_post(path, route)

    async def start(
        self,
        settings: StreamSettings,
        bootstrap: str,
        *,
        desk: Any = None,
        enricher: Any = None,
        registry: Any = None,
        notifier: Any = None,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        """Follow the desk-state topic, hook the mutes into ``notifier`` and the desk
        watchlist into ``enricher``, start the enabled transports."""
        import aiohttp

        state_topic, audit_topic = self.topics(settings)
        if enricher is not None:
            self.attach_enricher(enricher)
        if desk is not None and enricher is not None:

            def status() -> Mapping[str, Any]:
                figures = status_from_registry(registry) if registry is not None else {}
                with contextlib.suppress(Exception):
                    figures["partitions"] = desk._partitions()
                return figures

            self.desk.view = WorkerView(desk, enricher, status)
        self._kafka = KafkaDeskStore(settings, bootstrap, state_topic, audit_topic, self.apply)
        await self._kafka.start()
        self._store.target = self._kafka
        if notifier is not None:
            notifier.mutes = self.muted
            if hasattr(notifier, "acknowledge"):
                # Acknowledge buttons on priority alerts: the same allow lists as commands.
                from alerts.acks import AckHandler

                acks = AckHandler(notifier, clock=self._clock, access=self.desk.access.allows)
                self.handler.on_button_press = acks.on_button
        self._tasks.append(
            asyncio.create_task(self._sweeping(SWEEP_INTERVAL_S), name="skyfence-chat-sweep")
        )
        self._session = aiohttp.ClientSession()
        timeout_s = self.settings.http_timeout_s
        if self._telegram_token is not None:
            poller = TelegramPoller(
                self._telegram_token, self._session, self.handler,
                api_url=self.settings.telegram_api_url, bot_name=self.settings.chat_telegram_bot,
                request_timeout_s=timeout_s,
            )  # fmt: skip
            self._tasks.append(asyncio.create_task(poller.run(), name="skyfence-chat-telegram"))
            say("chat: Telegram commands by getUpdates long polling")
        if self._slack_app_token is not None:
            self._socket = SlackSocketMode(
                self._slack_app_token, self.handler, self._session,
                bot_token=self._slack_bot_token, api_url=self.settings.slack_api_url,
                clock=self._clock, timeout_s=timeout_s,
            )  # fmt: skip
            # In the background: slack_sdk's connect() retries until it succeeds (a wrong app
            # token is logged and retried), which must not hold up the worker's start.
            self._tasks.append(
                asyncio.create_task(self._socket.start(), name="skyfence-chat-slack-socket")
            )
            say("chat: Slack commands over Socket Mode")
        if self._signing is not None:
            self._http = SlackHttpEndpoint(
                self._signing, self.handler, self._session, clock=self._clock, timeout_s=timeout_s
            )
            say(f"chat: Slack commands at POST {', '.join(SLACK_HTTP_ROUTES)}")
        self.started = True
        say(f"chat: mutes and the desk watchlist in {state_topic}, audit log in {audit_topic}")

    async def stop(self) -> None:
        """Stop the transports and the follower (idempotent)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        if self._http is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._http.drain(), timeout=5.0)
            self._http = None
        if self._kafka is not None:
            await self._kafka.stop()
            self._kafka = None
        if self._session is not None:
            await self._session.close()
            self._session = None
