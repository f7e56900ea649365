"""A pytest plugin for the runs of scripts/mutation only (pyproject.toml's [tool.mutmut] loads it with `-p`).

mutmut runs, for each mutant, only the tests that called the mutated function in its stats pass (one run of the
suite that records, test by test, the functions each one reached). This suite shares work between tests, which would
hide most of them from that record: the program runs are cached (`tools.engine.remember_runs`) and the recordings
come from session- and module-scoped fixtures, so only the first test to ask for one would be seen calling the
components. In the stats pass this plugin therefore charges every test with the functions reached by the program
runs it asks for, run or cached (the cache keeps what each run reached), and by the setups of the fixtures it uses
(done for it or before it, and with what the fixtures they asked for reached).

In every run:
- the processes the tests start (the plan command line, the import probes, the wheel build) run the code unmutated:
  mutmut's active mutant stays in the test process (mutmut keeps a copy of it there) and leaves the environment they
  inherit. (In the stats pass they would otherwise record calls, look for mutmut's config in a throwaway repository
  and fail; mutmut counts no call made outside the test process either way.)
- a mutant's tests run fastest first, by the durations of the stats pass (as mutmut's fork runner orders them; its
  fork server runs them as they come), so most mutants are killed by a test that takes milliseconds; the tests of
  test_components.py last (see below).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mutmut.mutation.trampoline import get_mutant_under_test
from mutmut.state import state

ORDER_SENSITIVE = "test_components.py"

_fixture_hits: dict[int, set[str]] = {}
"""id(FixtureDef) -> the mutated functions its setup reached (stats pass)."""


def _stats_pass() -> bool:
    return get_mutant_under_test() == "stats"


class _ChargingRuns(dict):
    """tools.engine's cache of program runs, which also keeps the functions each run reached and charges them to
    the test that gets the run from the cache. (run_program: `if key not in runs: runs[key] = run(...)`, then
    `runs[key]`.)"""

    def __init__(self) -> None:
        super().__init__()
        self.hits: dict[str, set[str]] = {}
        self.outer: list[set[str]] = []

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        if not found:  # the run starts: what it reaches goes into a set of its own
            self.outer.append(state()._stats)
            state()._stats = set()
        return found

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.hits[key] = state()._stats
        self.restore()

    def __getitem__(self, key: str) -> Any:
        state()._stats |= self.hits.get(key, set())
        return super().__getitem__(key)

    def restore(self) -> None:
        """Back to the test's own set, with what the run reached (also after a run that raised)."""
        while self.outer:
            state()._stats = self.outer.pop() | state()._stats


if _stats_pass():  # on import, before the conftest turns the cache on (it keeps a cache it finds)
    from tools import engine

    engine._runs = _ChargingRuns()


def pytest_configure(config: Any) -> None:
    os.environ.pop("MUTANT_UNDER_TEST", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Iterator[None]:
    if not _stats_pass():
        yield
        return
    outer = state()._stats
    state()._stats = set()
    try:
        yield
    finally:
        hits = state()._stats
        # With what the fixtures it asked for reached, set up now or earlier (`request._fixture_defs`: every fixture
        # resolved for this test so far, getfixturevalue's included; a few more than its own is harmless).
        for used in list(request._fixture_defs.values()):
            if used is not fixturedef:
                hits |= _fixture_hits.get(id(used), set())
        _fixture_hits[id(fixturedef)] = hits
        state()._stats = outer | hits


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> None:
    if not _stats_pass():
        return
    from tools import engine

    if isinstance(engine._runs, _ChargingRuns):
        engine._runs.restore()
    used = [d for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
    used += list(item._request._fixture_defs.values())  # those asked for with getfixturevalue too
    for fixturedef in used:
        state()._stats |= _fixture_hits.get(id(fixturedef), set())


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    if "__mutmut_" not in get_mutant_under_test():
        return
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    # test_components.py's tests set Pulumi's mocks on the test thread, and a program the engine runs after them (in a
    # copy of that thread's context) registers its stack under theirs: they go last, as in the suite's own order,
    # where the shared recordings are made before them.
    items.sort(key=lambda item: (item.path.name == ORDER_SENSITIVE, durations.get(item.nodeid, float("inf"))))
