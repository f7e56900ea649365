"""Loaded before every test module (the rootdir's conftest): the suite judges Rocket.Chat's support window on one fixed
day, never the clock's, so that no stack's warnings change with the day the tests run (components/support_window.py).
Tests of the window itself pass their own days, or pin another one with monkeypatch."""

from datetime import date

from components import support_window

SUITE_TODAY = date(2026, 12, 3)
"""A day within the support window of the version the stack files pin (8.6.1, supported to 2027-01-10)."""

CLOCK_TODAY = support_window.today
support_window.today = lambda: SUITE_TODAY
