"""The ``skyfence`` command.

It lives in ``alerts`` because it composes both sides (``alerts`` may import ``streams``, never
the reverse). Sub-commands::

    skyfence demo [--slack-webhook URL] [--telegram-token T --telegram-chat C]
                                        embedded broker + worker + seed replay, prints alerts
    skyfence worker [--role all|tracker|notifier] [--broker B] [--routing FILE]
                                        tracker and/or notifier (embedded broker if no --broker)
    skyfence test-alert [--routing FILE | --slack-webhook URL ...]
                                        one marked test alert to each channel, no Kafka
    skyfence replay FILE [--speed X | --max] [--loop] [--from T] [--to T] [--shift-to-now] --broker B
    skyfence ingest SOURCE... --broker B   live sources into the positions topic
    skyfence record SOURCE... OUT.jsonl[.gz] [--duration S]
    skyfence evaluate FILE [--zones ...]   offline, no Kafka: events as JSON lines on stdout
    skyfence zones list | export SPEC
    skyfence config check                  validate everything, print it with secrets redacted

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from alerts.config import SLACK_WEBHOOK_ENV, TELEGRAM_TOKEN_ENV, WEBHOOK_URL_ENV, AlertSettings
from alerts.enrich import Enricher, open_enrichment
from alerts.secrets import Secret
from streams.codec import encode_event
from streams.config import StreamSettings
from streams.errors import ConfigError, SkyfenceError
from streams.logs import setup_logging
from streams.replay import evaluate
from streams.settings import CONFIG_ENV, Settings, secret_values
from streams.sources import FORMATS, detect_format, read_source
from streams.text import printable
from streams.tracking import Tracker
from streams.zones import BUILTIN_ZONES, load_zones, parse_zone_spec

__all__ = ["build_parser", "main"]

#: The seed scenario ``skyfence demo`` replays when given no file.
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "seeds" / "dprk-2023-09.jsonl.gz"


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``--speed 0`` divided by zero, -1 meant --max)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number above 0 (or use --max)")
    return value


def _port(text: str) -> int:
    """argparse type: a TCP port number, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return value


def _check_input(name: str) -> None:
    """Fail with one line (exit 2) before anything starts when ``name`` cannot be read."""
    if name == "-":
        return
    path = Path(name)
    if not path.exists():
        raise ConfigError(f"{name}: no such file")
    if path.is_dir():
        raise ConfigError(f"{name}: is a directory, not a recording")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{name}: not readable")


@contextlib.contextmanager
def _regular_file(name: str) -> Iterator[Path]:
    """``name`` as a regular file: ``-`` (stdin), a pipe or a device is first copied to a
    temporary file, so format detection can look at its start and the reader still gets
    every byte (reading a pipe twice lost its first 64 KB)."""
    path = Path(name)
    if name != "-" and stat.S_ISREG(path.stat().st_mode):
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="skyfence-input-") as tmp:
        if name == "-":
            shutil.copyfileobj(sys.stdin.buffer, tmp, 1 << 20)
        else:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield Path(tmp.name)


def _add_zones(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--zones",
        nargs="+",
        metavar="ZONE",
        help="zones to watch: built-in ids (dprk, zkkp) and/or GeoJSON files (default: dprk, "
        "or SKYFENCE_ZONES)",
    )


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="input format (default: detected from the content): "
        + "; ".join(f"{k}: {v}" for k, v in FORMATS.items()),
    )
    p.add_argument(
        "--start-ts",
        type=float,
        default=0.0,
        help="epoch seconds of the first frame of a beast capture (it has no wall-clock time)",
    )
    _add_reference(p)


def _add_reference(p: argparse.ArgumentParser) -> None:
    """--ref-lat/--ref-lon: the receiver's position, for Mode S (beast, modes-csv)."""
    for axis in ("lat", "lon"):
        p.add_argument(
            f"--ref-{axis}",
            type=float,
            help=f"receiver {'latitude' if axis == 'lat' else 'longitude'} (deg) for Mode S "
            "decoding (beast, modes-csv): first positions before an even/odd pair",
        )


def _reference(args: argparse.Namespace) -> tuple[float, float] | None:
    """(lat, lon) from --ref-lat/--ref-lon, both or neither; exits 2 otherwise."""
    lat, lon = getattr(args, "ref_lat", None), getattr(args, "ref_lon", None)
    if lat is None and lon is None:
        return None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        print("skyfence: error: give both --ref-lat (-90..90) and --ref-lon (-180..180)", file=sys.stderr)
        raise SystemExit(2)  # a usage error, as argparse's own
    return lat, lon


def _add_broker(p: argparse.ArgumentParser, *, embedded_default: bool) -> None:
    help_ = "Kafka bootstrap host:port (or SKYFENCE_BROKER)"
    if embedded_default:
        help_ += "; without it an embedded Tansu broker is started on 127.0.0.1"
    p.add_argument("--broker", help=help_)


def _add_alerts(p: argparse.ArgumentParser, *, worker: bool) -> None:
    g = p.add_argument_group(
        "alerts",
        "where alerts go (each also from the environment; secrets preferably from the "
        "environment or NAME_FILE secret files: command-line values are visible in ps)",
    )
    g.add_argument("--routing", help="routing TOML: channels, rules, mutes (SKYFENCE_ROUTING)")
    g.add_argument(
        "--slack-webhook", metavar="URL", help="Slack incoming webhook (SKYFENCE_SLACK_WEBHOOK_URL)"
    )
    g.add_argument(
        "--telegram-token", metavar="TOKEN", help="Telegram bot token (SKYFENCE_TELEGRAM_TOKEN)"
    )
    g.add_argument(
        "--telegram-chat", metavar="CHAT_ID", help="Telegram chat id (SKYFENCE_TELEGRAM_CHAT)"
    )
    g.add_argument(
        "--webhook-url", metavar="URL", help="generic JSON webhook (SKYFENCE_WEBHOOK_URL)"
    )
    g.add_argument(
        "--slack-api-url", metavar="URL", help="Slack Web API root (SKYFENCE_SLACK_API_URL)"
    )
    g.add_argument(
        "--telegram-api-url", metavar="URL",
        help="Telegram Bot API root, e.g. a self-hosted Bot API server (SKYFENCE_TELEGRAM_API_URL)",
    )  # fmt: skip
    _add_enrichment(g)
    g.add_argument("--no-console", action="store_true", help="do not print alerts on stdout")
    g.add_argument("--no-maps", action="store_true", help="do not attach map images")
    if worker:
        g.add_argument(
            "--max-lag-s", type=float,
            help="hold back alerts whose event time lags wall time by more (default 300; "
            "SKYFENCE_ALERT_MAX_LAG_S)",
        )  # fmt: skip
        g.add_argument(
            "--replay-alerts", action="store_true",
            help="push alerts for old events too (SKYFENCE_ALERT_REPLAY)",
        )  # fmt: skip


def _add_enrichment(g: Any) -> None:
    g.add_argument(
        "--watchlist", metavar="[NAME=]CSV", action="append",
        help="watchlist: plane-alert-db CSV or the desk's own (icao24/registration, category, "
        "tags, note); repeatable; re-read when it changes (SKYFENCE_WATCHLIST, comma-separated)",
    )  # fmt: skip
    g.add_argument(
        "--aircraft-db", metavar="CSV",
        help="OpenSky aircraft database CSV: registration, type, operator by address "
        "(SKYFENCE_AIRCRAFT_DB)",
    )  # fmt: skip


def _alert_settings(args: argparse.Namespace) -> tuple[AlertSettings, dict[str, Secret]]:
    """Alert settings from the environment and flags, and secrets given as flags."""
    settings = AlertSettings.from_env(
        routing=args.routing,
        telegram_chat=args.telegram_chat,
        slack_api_url=args.slack_api_url,
        telegram_api_url=args.telegram_api_url,
        watchlist=",".join(args.watchlist) if args.watchlist else None,
        aircraft_db=args.aircraft_db,
        console=False if args.no_console else None,
        maps=False if args.no_maps else None,
        alert_max_lag_s=getattr(args, "max_lag_s", None),
        alert_replay=True if getattr(args, "replay_alerts", False) else None,
    )
    secrets: dict[str, Secret] = {}
    for flag, env in (
        ("slack_webhook", SLACK_WEBHOOK_ENV),
        ("telegram_token", TELEGRAM_TOKEN_ENV),
        ("webhook_url", WEBHOOK_URL_ENV),
    ):
        value = getattr(args, flag)
        if value:
            secrets[env] = Secret(value)
    return settings, secrets


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skyfence`` command."""
    parser = argparse.ArgumentParser(
        prog="skyfence",
        description="Airspace-entry alerts from ADS-B positions (Kafka + Faust).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument(
        "--log-format", choices=("text", "json"),
        help="log lines as readable text (default) or JSON objects (SKYFENCE_LOG_FORMAT)",
    )  # fmt: skip
    parser.add_argument(
        "--config", metavar="FILE",
        help="TOML file of settings (keys: setting names in lower case; SKYFENCE_CONFIG); "
        "environment variables and flags win over it",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo", help="run the whole pipeline on the seed scenario and show the alerts"
    )
    p.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO), help="recording to replay")
    _add_broker(p, embedded_default=True)
    _add_zones(p)
    p.add_argument(
        "--timeout-s", type=float, default=120.0, help="give up after this long (default 120)"
    )
    p.add_argument("--maps-dir", metavar="DIR", help="also write the crossings' map images here")
    p.add_argument(
        "--serve", action="store_true",
        help="keep the worker running after the replay, serving /metrics, /healthz and /readyz "
        "on 127.0.0.1:9108 (SKYFENCE_METRICS_HOST, --metrics-port) until Ctrl-C",
    )  # fmt: skip
    p.add_argument("--metrics-port", type=_port, help="port for --serve (default 9108)")
    _add_alerts(p, worker=False)

    p = sub.add_parser("worker", help="run the tracker and/or the notifier until stopped")
    p.add_argument(
        "--role",
        choices=["all", "tracker", "notifier"],
        default="all",
        help="tracker: detect (positions -> events); notifier: deliver (events -> channels); "
        "all: both in this process (default). Each is its own Faust app and consumer group.",
    )
    _add_broker(p, embedded_default=True)
    _add_zones(p)
    p.add_argument(
        "--metrics-port", type=_port,
        help="serve /metrics, /healthz and /readyz on this port (SKYFENCE_METRICS_PORT)",
    )  # fmt: skip
    _add_alerts(p, worker=True)

    p = sub.add_parser("replay", help="publish a recording to the positions topic")
    p.add_argument(
        "file", help="recording (JSON lines, optionally gzip) or another --format; - for stdin"
    )
    _add_format(p)
    _add_broker(p, embedded_default=False)
    pace = p.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=_positive_float, default=1.0,
        help="event time per wall time, above 0 (default 1)",
    )  # fmt: skip
    pace.add_argument("--max", action="store_true", help="as fast as possible")
    p.add_argument("--loop", action="store_true", help="replay again and again, time moving on")
    p.add_argument(
        "--from", dest="from_ts", metavar="TIME", help="start at this time (epoch s or ISO 8601)"
    )
    p.add_argument(
        "--to", dest="to_ts", metavar="TIME", help="stop after this time (epoch s or ISO 8601)"
    )
    p.add_argument(
        "--shift-to-now", action="store_true", help="re-stamp the recording to start now"
    )

    _add_live(sub)

    p = sub.add_parser(
        "test-alert", help="send one marked test alert to every configured channel and report"
    )
    _add_zones(p)
    _add_alerts(p, worker=False)

    p = sub.add_parser(
        "evaluate", help="run detection offline on a recording; events as JSON lines"
    )
    p.add_argument(
        "file", help="recording (JSON lines, optionally gzip) or another --format; - for stdin"
    )
    _add_format(p)
    _add_zones(p)
    _add_enrichment(
        p.add_argument_group("enrichment", "fill in who each aircraft is (as the notifier does)")
    )

    config = sub.add_parser("config", help="configuration commands")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    csub.add_parser(
        "check",
        help="validate settings, zones, routing, secrets and watchlist; print the effective "
        "configuration with secrets redacted (exit 2 naming the key at fault)",
    )

    zones = sub.add_parser("zones", help="zone commands")
    zsub = zones.add_subparsers(dest="zones_command", required=True, metavar="SUBCOMMAND")
    p = zsub.add_parser("list", help="list the zones (built-in, or those given)")
    _add_zones(p)
    p = zsub.add_parser(
        "export", help="print a zone as GeoJSON, e.g. `zones export dprk+50km` for an approach ring"
    )
    p.add_argument(
        "zone", help="zone spec: dprk, zkkp, dprk+50km, tz:Europe/Amsterdam, file.geojson[+10nm]"
    )
    return parser


def _add_live(sub: Any) -> None:
    """``ingest`` and ``record`` (source URLs: see README "Sources")."""
    urls = "source URLs: sbs://H:P, beast://H:P, http(s)://.../aircraft.json, file:///..., adsbx://..., opensky://..., kafka://RAW_TOPIC (the front stage: alone)"
    p = sub.add_parser("ingest", help="produce live sources into the positions topic")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help=urls)
    _add_broker(p, embedded_default=False)
    p.add_argument(
        "--max-age-s",
        type=float,
        default=600.0,
        help="reject positions older than this (0: off; default 600)",
    )
    p.add_argument(
        "--buffer-max",
        type=int,
        default=200_000,
        help="records held while the broker is unreachable (default 200000)",
    )
    p.add_argument(
        "--idempotence",
        choices=("auto", "on", "off"),
        default="auto",
        help="idempotent producer (auto: off on brokers that refuse it)",
    )
    p.add_argument(
        "--compression",
        choices=("zstd", "lz4", "snappy", "gzip", "none"),
        default="zstd",
        help="Kafka batch compression (default zstd: the cheapest in CPU per position)",
    )
    p.add_argument(
        "--dedup-s", type=float, default=1.0, help="cross-source dedup window, seconds (default 1)"
    )
    p.add_argument(
        "--dedup-m",
        type=float,
        default=250.0,
        help="cross-source dedup distance, metres (default 250)",
    )
    p.add_argument(
        "--no-batch",
        action="store_true",
        help="one keyed message per position (default: per-partition batches)",
    )
    p.add_argument(
        "--watermark-every-s",
        type=float,
        default=1.0,
        help="seconds between watermarks to every partition, live topics (SKYFENCE_LIVE=1) only (0: none; default 1)",
    )
    p.add_argument(
        "--no-position-every-s",
        type=float,
        default=600.0,
        help="dead-letter an aircraft's no_position rejections at most this often per source (default 600)",
    )
    p.add_argument(
        "--metrics-port", type=int, default=0, help="serve Prometheus /metrics on this port"
    )
    _add_reference(p)
    p = sub.add_parser("record", help="capture live sources to a recording (format v1)")
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE", help=urls + "; the last argument is OUT.jsonl[.gz]"
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="stop after S seconds (default: at SIGINT/SIGTERM)",
    )
    p.add_argument(
        "--max-age-s", type=float, default=600.0, help="reject positions older than this (0: off)"
    )


def _run_live(args: argparse.Namespace) -> int:
    from streams.ingest import IngestOptions, IngestRun, run_ingest
    from streams.ingest import run_loop as run
    from streams.record import run_record

    if args.command == "record":
        if len(args.sources) < 2:
            print("skyfence record: give at least one SOURCE and the OUT file", file=sys.stderr)
            return 2
        *urls, out = args.sources
        return run(run_record(urls, Path(out), duration_s=args.duration, max_age_s=args.max_age_s))
    settings = _settings(args)
    if not settings.broker:
        print("skyfence ingest: --broker (or SKYFENCE_BROKER) is required", file=sys.stderr)
        return 2
    kafka = [u for u in args.sources if u.startswith("kafka://")]
    if kafka:
        # The front stage: single-position messages from a raw topic, re-published as
        # co-partitioned batches; it commits its input only after they are acknowledged.
        from streams.front import parse_kafka_url, run_front

        if len(args.sources) != 1:
            print("skyfence ingest: a kafka:// source runs alone (one front stage per process)", file=sys.stderr)  # fmt: skip
            return 2
        try:
            raw_topic = parse_kafka_url(kafka[0])
        except ValueError as exc:
            print(f"skyfence ingest: {exc}", file=sys.stderr)
            return 2
        run(
            run_front(
                settings, raw_topic, say=lambda text: print(text, file=sys.stderr, flush=True)
            )
        )
        return 0
    compression = None if args.compression == "none" else args.compression
    options = IngestOptions(buffer_max=args.buffer_max, idempotence=args.idempotence,
                            compression=compression,
                            dedup_s=args.dedup_s, dedup_m=args.dedup_m, batch=not args.no_batch,
                            no_position_every_s=args.no_position_every_s,
                            watermark_every_s=args.watermark_every_s)  # fmt: skip
    return run(
        run_ingest(
            settings,
            IngestRun(
                tuple(args.sources),
                options,
                args.max_age_s,
                args.metrics_port,
                reference=_reference(args),
            ),
        )
    )


def _settings(args: argparse.Namespace, metrics_port: int | None = None) -> StreamSettings:
    zones = tuple(args.zones) if getattr(args, "zones", None) else None
    return StreamSettings.from_env(
        broker=getattr(args, "broker", None), zones=zones, metrics_port=metrics_port
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``skyfence evaluate``: events as JSON lines on stdout, a summary on stderr."""
    settings = _settings(args)
    tracker = Tracker(load_zones(settings.zones, **settings.zone_limits()))
    enricher = None
    if args.watchlist or args.aircraft_db:  # a bad list fails before a long evaluation
        lists, db = open_enrichment(args.watchlist or (), args.aircraft_db)
        enricher = Enricher(watchlists=lists, aircraft_db=db, images=False)
    _check_input(args.file)
    with _regular_file(args.file) as path:
        fmt = args.format or detect_format(path)
        result = evaluate(
            read_source(path, fmt, start_ts=args.start_ts, reference=_reference(args)), tracker
        )
    out = sys.stdout.buffer
    for event in result.events:
        if enricher is not None:
            event = enricher.enrich(event)
        out.write(encode_event(event) + b"\n")
    out.flush()
    positions = sum(result.outcomes.values())
    print(
        f"evaluate: {positions} positions, {result.aircraft} aircraft, "
        f"{len(result.events)} events, {len(result.bad_lines)} bad lines "
        f"({', '.join(f'{k} {v}' for k, v in result.outcomes.items())})",
        file=sys.stderr,
    )
    # Beast has no lines: its rejections carry the frame's byte offset.
    where = "byte" if fmt == "beast" else "line"
    shown = result.bad_lines[:10]
    # A damaged end of the file is always shown: it says how much was read.
    last = result.bad_lines[-1] if result.bad_lines else None
    if last is not None and last.reason in _CUT_SHORT and last not in shown:
        shown.append(last)
    for bad in shown:
        print(f"  {where} {bad.line_no}: {bad.reason}: {_printable(bad.detail)}", file=sys.stderr)
    return 0


#: Bad-line reasons that end a file early (see streams.replay and streams.sources._common).
_CUT_SHORT = frozenset({"truncated", "corrupt"})


def _printable(text: str) -> str:
    """``text`` with control characters escaped, for one line of a terminal."""
    return printable(text)


def _channel_env() -> bool:
    """Whether a quick-start channel is configured in the environment (or a secret file)."""
    return any(
        os.environ.get(name) or os.environ.get(f"{name}_FILE")
        for name in (SLACK_WEBHOOK_ENV, TELEGRAM_TOKEN_ENV, WEBHOOK_URL_ENV)
    )


def cmd_zones_list(args: argparse.Namespace) -> int:
    """``skyfence zones list``: id, name, bounds and source of each zone."""
    specs = args.zones or list(BUILTIN_ZONES)
    for zone in load_zones(specs, **StreamSettings.from_env().zone_limits()):
        min_lon, min_lat, max_lon, max_lat = zone.bounds
        band = ""
        if zone.floor_ft is not None or zone.ceiling_ft is not None:
            band = f"  {zone.floor_ft or 0:.0f}-{zone.ceiling_ft or 99999:.0f} ft"
        # Ids, names and paths come from zone files: escaped (control characters, issue 12).
        reading = f"  antimeridian: {zone.antimeridian}" if zone.antimeridian else ""
        print(
            f"{printable(zone.id):<12} {printable(zone.name):<28} {min_lat:.2f}..{max_lat:.2f}N "
            f"{min_lon:.2f}..{max_lon:.2f}E{band}{reading}  ({printable(zone.source)})"
        )
        if zone.attribution:
            print(f"{'':<12} {zone.attribution}")
    return 0


def cmd_zones_export(args: argparse.Namespace) -> int:
    """``skyfence zones export SPEC``: the zone(s) as a GeoJSON FeatureCollection on stdout."""
    zones = parse_zone_spec(args.zone, **StreamSettings.from_env().zone_limits())
    doc = {"type": "FeatureCollection", "features": [z.to_geojson() for z in zones]}
    sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
    sys.stdout.flush()
    return 0


def _setup_logging(args: argparse.Namespace) -> None:
    """Text or JSON logs, with every secret the process was given masked."""
    flags = [getattr(args, n, None) for n in ("slack_webhook", "telegram_token", "webhook_url")]
    try:
        settings = Settings.load(overrides={"log_format": args.log_format})
    except SkyfenceError:  # reported by the command itself; log plainly meanwhile
        setup_logging(verbose=args.verbose, log_format=args.log_format or "text")
        return
    setup_logging(
        verbose=args.verbose,
        log_format=settings.log_format,
        secrets=[*secret_values(settings, os.environ), *(f for f in flags if f)],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skyfence`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:
        # Importing faust reads --loop/-L/--datadir from sys.argv (and would take `replay
        # --loop` for an event-loop name); the arguments are parsed, so hide them.
        sys.argv = sys.argv[:1]
    if args.config:
        os.environ[CONFIG_ENV] = args.config  # the entry point: every loader below reads it
    _setup_logging(args)
    try:
        if args.command == "config":
            from alerts.configcheck import check_config

            return check_config(os.environ, out=sys.stdout, err=sys.stderr)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        if args.command in ("ingest", "record"):
            return _run_live(args)
        if args.command == "zones":
            if args.zones_command == "export":
                return cmd_zones_export(args)
            return cmd_zones_list(args)
        from alerts import runner

        if args.command == "demo":
            alert_settings, secrets = _alert_settings(args)
            return runner.run(
                runner.demo(
                    _settings(args, metrics_port=args.metrics_port),
                    Path(args.scenario),
                    timeout_s=args.timeout_s,
                    alert_settings=alert_settings,
                    secrets=secrets,
                    maps_dir=Path(args.maps_dir) if args.maps_dir else None,
                    serve=args.serve,
                )
            )
        if args.command == "test-alert":
            alert_settings, secrets = _alert_settings(args)
            if not (alert_settings.routing or secrets or _channel_env()):
                raise ConfigError(
                    "no channel configured: give --routing, --slack-webhook, --webhook-url or "
                    "--telegram-token with --telegram-chat (or their environment variables)"
                )
            return runner.run(runner.test_alert(_settings(args), alert_settings, secrets=secrets))
        if args.command == "worker":
            settings = _settings(args)
            if args.metrics_port is not None:
                settings = StreamSettings.from_env(
                    broker=settings.broker or None,
                    zones=settings.zones,
                    metrics_port=args.metrics_port,
                )
            alert_settings, secrets = _alert_settings(args)
            return runner.run(
                runner.worker(settings, alert_settings, secrets=secrets, role=args.role)
            )
        if args.command == "replay":
            settings = _settings(args)
            if not settings.broker:
                raise ConfigError("replay needs --broker (or SKYFENCE_BROKER)")
            _check_input(args.file)  # before connecting to anything
            from streams.replay_controls import ReplayControls, parse_time

            controls = ReplayControls(
                from_ts=parse_time(args.from_ts) if args.from_ts else None,
                to_ts=parse_time(args.to_ts) if args.to_ts else None,
                shift_to_now=args.shift_to_now,
                loop=args.loop,
            )
            with _regular_file(args.file) as path:
                # an unreadable format fails here, not mid-replay
                fmt = args.format or detect_format(path)
                return runner.run(
                    runner.replay_file(
                        settings, path, None if args.max else args.speed,
                        fmt=fmt, start_ts=args.start_ts, controls=controls,
                        reference=_reference(args),
                    )
                )  # fmt: skip
    except SkyfenceError as exc:
        print(f"skyfence: error: {_printable(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that vanished or cannot be read mid-way
        name = f"{exc.filename}: " if exc.filename else ""
        print(f"skyfence: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
