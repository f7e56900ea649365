"""Rocket.Chat's support window (components/support_window.py): six months from a version's release, longer for a
long-term-support line; a warning at preview past it, never an error. Every day here is fixed: the suite never reads
the clock (conftest.py pins `support_window.today` for every program run)."""

from __future__ import annotations

from datetime import date

import pytest

from components import support_window
from components.support_window import Releases, add_months, known_releases, support_ends, support_note
from components.versions import Version
from tests import conftest
from tools.engine import Recording, run_program

DAY = date(2026, 12, 3)


def support_warnings(recording: Recording) -> list[str]:
    return [m for level, m in recording.logs if level == "warn" and m.startswith("rocketchat:version ")]


# --- the data ---------------------------------------------------------------------------------------------------


def test_the_release_dates_are_the_catalogs_with_their_source() -> None:
    releases = known_releases()
    assert releases.source == "endoflife-date/release-data releases/rocket-chat.json @ f626bdef8bf9"
    # The pinned versions (docs/rocketchat-facts.md i).
    assert releases.dates[Version(7, 6, 2)] == date(2025, 5, 30)
    assert releases.dates[Version(7, 7, 4)] == date(2025, 7, 4)
    assert releases.dates[Version(8, 6, 1)] == date(2026, 7, 10)
    assert releases.newest == (Version(8, 7, 1), date(2026, 8, 19))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2025, 5, 30), 6, date(2025, 11, 30)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2026, 7, 10), 6, date(2027, 1, 10)),
        (date(2025, 12, 5), 1, date(2026, 1, 5)),
    ],
)
def test_six_months_later_keeps_the_day_or_takes_the_months_last(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


# --- the rule -----------------------------------------------------------------------------------------------------


def test_an_old_version_is_named_with_its_release_its_window_how_long_ago_and_the_newest_release() -> None:
    assert support_note("7.6.2", DAY) == (
        "rocketchat:version 7.6.2 was released on 2025-05-30 and left Rocket.Chat's six-month support window on "
        "2025-11-30, 368 days ago; the newest release known here is 8.7.1 (2026-08-19)"
    )


def test_a_current_version_says_nothing_up_to_the_last_day_of_its_window() -> None:
    assert support_note("8.6.1", DAY) is None
    assert support_note("8.6.1", date(2027, 1, 10)) is None
    assert support_note("8.6.1", date(2027, 1, 11)) == (
        "rocketchat:version 8.6.1 was released on 2026-07-10 and left Rocket.Chat's six-month support window on "
        "2027-01-10, 1 day ago; the newest release known here is 8.7.1 (2026-08-19)"
    )


def test_a_long_term_support_line_lasts_to_its_own_end() -> None:
    assert support_ends(Version(8, 5, 1), date(2026, 6, 15)) == date(2027, 7, 31)
    assert support_note("8.5.1", date(2027, 3, 1)) is None
    assert support_note("7.10.3", DAY) == (
        "rocketchat:version 7.10.3 was released on 2025-10-24 and left the support of its long-term-support line "
        "7.10 on 2026-07-10, 146 days ago; the newest release known here is 8.7.1 (2026-08-19)"
    )
    # A late patch of the line is still six months from its own release.
    assert support_ends(Version(7, 10, 15), date(2026, 8, 20)) == date(2027, 2, 20)


def test_a_version_newer_than_every_known_release_passes_with_a_note() -> None:
    assert support_note("8.8.0", DAY) == (
        "rocketchat:version 8.8.0 is newer than every release known here (the newest is 8.7.1, released on "
        "2026-08-19): its release date, and so its support window, is not known yet"
    )


def test_an_unknown_older_version_says_it_is_not_known() -> None:
    for version in ("6.13.1", "7.9.2"):  # before the data starts; a gap in it
        note = support_note(version, DAY)
        assert note == (
            f"rocketchat:version {version} is not a release known here (endoflife-date/release-data "
            "releases/rocket-chat.json @ f626bdef8bf9), so whether Rocket.Chat still supports it is not known; the "
            "newest release known here is 8.7.1 (2026-08-19)"
        )


def test_the_rule_reads_the_releases_it_is_given() -> None:
    releases = Releases({Version(1, 0, 0): date(2020, 1, 1), Version(1, 1, 0): date(2020, 3, 1)}, "a test")
    assert support_note("1.1.0", date(2020, 9, 1), releases) is None
    assert support_note("1.0.0", date(2020, 9, 1), releases) == (
        "rocketchat:version 1.0.0 was released on 2020-01-01 and left Rocket.Chat's six-month support window on "
        "2020-07-01, 62 days ago; the newest release known here is 1.1.0 (2020-03-01)"
    )


def test_the_suite_runs_on_a_fixed_day_and_the_program_asks_the_clock_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert support_window.today() == conftest.SUITE_TODAY

    class Clock(date):
        @classmethod
        def today(cls) -> date:
            return date(2031, 5, 4)

    monkeypatch.setattr(support_window, "date", Clock)
    assert conftest.CLOCK_TODAY() == date(2031, 5, 4)


# --- through the program ------------------------------------------------------------------------------------------


def test_a_preview_of_an_old_version_warns_and_still_registers_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(support_window, "today", lambda: date(2026, 2, 1))
    # A recording of its own: a run is never taken from the cache of another day's.
    recording = run_program("dev", {"rocketchat:version": "7.6.2"}, recording=Recording(), preview=True)
    assert support_warnings(recording) == [
        (
            "rocketchat:version 7.6.2 was released on 2025-05-30 and left Rocket.Chat's six-month support window on "
            "2025-11-30, 63 days ago; the newest release known here is 8.7.1 (2026-08-19)"
        )
    ]
    assert recording.of_type("kubernetes:apps/v1:Deployment")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_files_version_is_supported_on_a_day_in_its_window(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(support_window, "today", lambda: date(2026, 12, 1))
    assert support_warnings(run_program(stack, recording=Recording())) == []


def test_the_same_stack_warns_once_its_window_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(support_window, "today", lambda: date(2027, 2, 1))
    assert support_warnings(run_program("prod", recording=Recording())) == [
        (
            "rocketchat:version 8.6.1 was released on 2026-07-10 and left Rocket.Chat's six-month support window on "
            "2027-01-10, 22 days ago; the newest release known here is 8.7.1 (2026-08-19)"
        )
    ]
