"""Rocket.Chat's support window: each version is supported for six months from its release (Rocket.Chat's support
prerequisites, https://docs.rocket.chat/v1/docs/en/support-prerequisites), long-term-support lines longer.

The release dates are the catalog's `releases` (components/data/rocketchat_settings.json: the dates of Rocket.Chat's
git tags as endoflife-date/release-data records them, with that source). `support_note` is pure: the day it judges
is an argument; `today()` is the one place the program reads the clock (docs/versions.md).
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from components.versions import Version

RELEASES_FILE = Path(__file__).resolve().parent / "data" / "rocketchat_settings.json"
SUPPORT_MONTHS = 6

LTS_SUPPORT_UNTIL: dict[tuple[int, int], date] = {
    (7, 10): date(2026, 7, 10),
    (8, 5): date(2027, 7, 31),
}
"""Long-term-support lines and the day their support ends: endoflife-date/endoflife.date `products/rocket-chat.md`
@ a70eca337600 (`lts: true`, `eol`), from Rocket.Chat's release notes and version-durability pages."""


@dataclass(frozen=True)
class Releases:
    """Release dates by version, and where they come from."""

    dates: dict[Version, date]
    source: str

    @property
    def newest(self) -> tuple[Version, date]:
        version = max(self.dates)
        return version, self.dates[version]


@cache
def known_releases(path: Path = RELEASES_FILE) -> Releases:
    """The catalog's release dates (every x.y.z it knows) and their source."""
    releases = json.loads(path.read_text())["releases"]
    source = releases["source"]
    dates = {Version.parse(v): date.fromisoformat(d) for v, d in releases["all"]["versions"].items()}
    return Releases(dates, f"{source['repository']} {source['path']} @ {source['commit'][:12]}")


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the last day of that month when it is shorter (2025-08-31 + 6 -> 2026-02-28)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def support_ends(version: Version, released: date) -> date:
    """The last day a version is supported: six months from its release, or its line's end if that is a
    long-term-support line ending later."""
    window = add_months(released, SUPPORT_MONTHS)
    lts = LTS_SUPPORT_UNTIL.get((version.major, version.minor))
    return max(window, lts) if lts else window


def _elapsed(start: date, end: date) -> str:
    days = (end - start).days
    return "1 day" if days == 1 else f"{days} days"


def support_note(version: str | Version, today: date, releases: Releases | None = None) -> str | None:
    """What `rocketchat:version` warrants saying about its support on `today`, or None while it is supported.

    Past its window: the version, its release date, when it left the window and how long ago, and the newest release
    the data knows. A version newer than every known release: its date is not known yet. An unknown version older
    than that: not known here. Never an error: the stack deploys whatever it says."""
    releases = releases or known_releases()
    version = Version.parse(version) if isinstance(version, str) else version
    newest, newest_date = releases.newest
    newest_text = f"{newest} ({newest_date.isoformat()})"
    released = releases.dates.get(version)
    if released is None and version > newest:
        return (
            f"rocketchat:version {version} is newer than every release known here (the newest is {newest}, released "
            f"on {newest_date.isoformat()}): its release date, and so its support window, is not known yet"
        )
    if released is None:
        return (
            f"rocketchat:version {version} is not a release known here ({releases.source}), so whether Rocket.Chat "
            f"still supports it is not known; the newest release known here is {newest_text}"
        )
    ends = support_ends(version, released)
    if today <= ends:
        return None
    line = (version.major, version.minor)
    window = (
        f"the support of its long-term-support line {version.major}.{version.minor}"
        if LTS_SUPPORT_UNTIL.get(line) == ends
        else "Rocket.Chat's six-month support window"
    )
    return (
        f"rocketchat:version {version} was released on {released.isoformat()} and left {window} on "
        f"{ends.isoformat()}, {_elapsed(ends, today)} ago; the newest release known here is {newest_text}"
    )


def today() -> date:
    """The day the program judges support on: the clock's. Tests pin it (conftest.py)."""
    return date.today()
