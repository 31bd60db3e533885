"""Real recorded tracks for detection tests: every recording in the shared data folder that
has positions, read with skyfence's own readers, and thinned to a sparser spacing.

Thinning keeps, per aircraft, the first fix and then each fix at least ``spacing_s`` after
the last one kept: what a receiver network with coverage that sparse would have heard.
Nothing here reads the network or writes anywhere; the recordings are read only when a test
asks for them (tests skip when the shared folder is absent).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.models import PositionReport
from streams.sources import read_source
from streams.sources.mode_s import ModeSDecoder

__all__ = ["RECORDINGS", "Recording", "read_positions", "thin"]


@dataclass(frozen=True, slots=True)
class Recording:
    """A shared recording with positions, and the zones its tracks cross."""

    name: str
    path: str
    #: Zone specs whose borders the recording's tracks cross (time-zone outlines that
    #: follow national borders and territorial seas), or a GeoJSON built by the test.
    zones: tuple[str, ...]
    read: Callable[[Path], Iterable[object]]


def _rs1090(path: Path) -> Iterator[PositionReport]:
    """rs1090's JSON lines carry the raw frame: decode it with skyfence's Mode S decoder."""
    decoder = ModeSDecoder()
    with gzip.open(path) as lines:
        for line in lines:
            row = orjson.loads(line)
            report = decoder.feed(row["frame"], row["timestamp"])
            if report is not None:
                yield report


def _reader(fmt: str) -> Callable[[Path], Iterable[object]]:
    return lambda path: read_source(path, fmt)


#: Every recording in the shared data folder that has positions. The Paris-region ones
#: (OpenSky's quickstart, rs1090's CDG departure, the dump1090 capture) cross no national
#: border: the tests give them a border that their tracks do cross (see the sparse suite).
RECORDINGS: tuple[Recording, ...] = (
    Recording(
        "n899dn",
        "trace_full_ac671b.json",
        (
            "tz:America/Belize", "tz:America/Cancun", "tz:America/Merida",
            "tz:America/Chicago", "tz:America/Denver", "tz:America/Los_Angeles",
        ),
        _reader("readsb-trace"),
    ),
    Recording(
        "spar19",
        "fr24_2ce4f83f_SPAR19.json",
        (
            "tz:Asia/Kuala_Lumpur", "tz:Asia/Singapore", "tz:Asia/Jakarta",
            "tz:Asia/Pontianak", "tz:Asia/Makassar", "tz:Asia/Taipei",
        ),
        _reader("fr24"),
    ),
    Recording("jal516", "fr24_3376ab31_JAL516.json", ("tz:Asia/Tokyo",), _reader("fr24")),
    Recording(
        "406b90",
        "pymodes_sample_data_adsb.csv",
        ("tz:Europe/Amsterdam", "tz:Europe/Berlin"),
        _reader("modes-csv"),
    ),
    Recording("quickstart", "quickstart.json.gz", (), _reader("opensky-json")),
    Recording("rs1090", "rs1090_full_flight_short.jsonl.gz", (), _rs1090),
    Recording("dump1090", "sample_dump1090.bin", (), _reader("beast")),
)


def read_positions(folder: Path, recording: Recording) -> list[PositionReport]:
    """The recording's positions in time order, as a live feed delivers them (OpenSky's
    quickstart is stored aircraft by aircraft); bad rows dropped: they are not under test."""
    reports = [r for r in recording.read(folder / recording.path) if isinstance(r, PositionReport)]
    reports.sort(key=lambda r: r.ts)
    return reports


def thin(reports: Iterable[PositionReport], spacing_s: float) -> list[PositionReport]:
    """Per aircraft, the first fix and every fix at least ``spacing_s`` after the last kept."""
    last: dict[str, float] = {}
    out = []
    for report in reports:
        kept = last.get(report.icao24)
        if kept is None or report.ts - kept >= spacing_s:
            out.append(report)
            last[report.icao24] = report.ts
    return out
