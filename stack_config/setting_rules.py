"""Rocket.Chat's settings, checked against Rocket.Chat itself: ids, types, a select's values, what is secret.

Rocket.Chat silently ignores a setting id it does not know, so a misspelt `OVERWRITE_SETTING_<id>` is a setting that
never applies. The ids and types are facts read from Rocket.Chat's source (`scripts/settings-catalog` ->
`components/data/rocketchat_settings.json`; docs/rocketchat-facts.md says which commits, and that both catalog
versions are approximate). A stack's version is checked against the catalog of its major version.

Limit: a secret map set partly in plain text (one leaf `secure:`, another not) cannot be told apart here: Pulumi marks
the whole key secret when any leaf is.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from components.versions import Version

CATALOG_FILE = Path(__file__).resolve().parent.parent / "components" / "data" / "rocketchat_settings.json"
CREDENTIAL_PATTERNS = (re.compile(r"^Accounts_OAuth_Custom-.+-secret$"),)
"""Ids Rocket.Chat does not register as secret that hold a credential all the same (a custom OAuth provider's client
secret is a plain string setting, docs/rocketchat-facts.md): kept with the secrets."""
STRING_TYPES = frozenset({"string", "code", "relativeUrl", "color", "font", "language", "timezone", "email"})
ENV_TYPES = STRING_TYPES | {"boolean", "int", "select", "password"}
"""What the environment can set: Rocket.Chat converts `true`/`false`, parses an int setting's digits, and keeps the
rest as text (actions, assets, room picks and the like are not values)."""


@dataclass(frozen=True)
class Catalog:
    version: str
    approximate: bool
    settings: Mapping[str, Mapping[str, Any]]
    patterns: tuple[tuple[re.Pattern[str], str, Mapping[str, Any]], ...] = field(default=())
    missing: tuple[str, ...] = ()

    def lookup(self, setting_id: str) -> Mapping[str, Any] | None:
        if setting_id in self.settings:
            return self.settings[setting_id]
        # `Accounts_OAuth_Custom-<name>` matches every field of a provider too: the most specific pattern wins.
        matches = [(len(name), entry) for regex, name, entry in self.patterns if regex.match(setting_id)]
        return max(matches, key=lambda match: match[0])[1] if matches else None

    @property
    def lacks_enterprise(self) -> bool:
        return any("enterprise" in m for m in self.missing)


@cache
def catalogs() -> tuple[Catalog, ...]:
    data = json.loads(CATALOG_FILE.read_text())
    return tuple(
        Catalog(
            version=label,
            approximate=bool(entry.get("approximate")),
            settings=entry["settings"],
            patterns=tuple(
                (re.compile(pattern["regex"]), name, pattern) for name, pattern in (entry.get("patterns") or {}).items()
            ),
            missing=tuple(entry.get("missing") or ()),
        )
        for label, entry in sorted(data["versions"].items(), key=lambda item: Version.parse(item[0]))
    )


def catalog_for(version: str) -> Catalog:
    """The catalog of the same major version at or below it, else the oldest of that major, else the nearest."""
    wanted = Version.parse(version)
    known = catalogs()
    same_major = [c for c in known if Version.parse(c.version).major == wanted.major]
    below = [c for c in same_major if Version.parse(c.version) <= wanted]
    if below:
        return below[-1]
    if same_major:
        return same_major[0]
    return min(known, key=lambda c: abs(Version.parse(c.version).major - wanted.major))


def is_secret(setting_id: str, entry: Mapping[str, Any]) -> bool:
    return (
        bool(entry.get("secret"))
        or entry.get("type") == "password"
        or any(p.match(setting_id) for p in CREDENTIAL_PATTERNS)
    )


def _suggest(setting_id: str, catalog: Catalog) -> str:
    close = difflib.get_close_matches(setting_id, list(catalog.settings), n=3, cutoff=0.75)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _type_problem(entry: Mapping[str, Any], value: Any) -> str | None:
    kind = entry.get("type")
    shown = json.dumps(value)
    if kind == "boolean" and not isinstance(value, bool):
        return f"boolean setting, got {shown}: give true or false"
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"int setting, got {shown}: give a whole number, e.g. 10"
    if kind == "select":
        keys = [str(v) for v in entry.get("values") or []]
        if keys and str(value) not in keys:
            return f"select setting, got {shown}: give one of {', '.join(keys)}"
    if kind in STRING_TYPES and not isinstance(value, str):
        return f"{kind} setting, got {shown}: give text (in quotes in the stack file)"
    if kind not in ENV_TYPES:
        return f"a setting of type {kind}, which no environment variable can set; set it in the admin UI"
    return None


def setting_problems(
    version: str, settings: Mapping[str, Any], secret_settings: Collection[str]
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the stack's `settings` (id -> value) and `secretSettings` (their ids: their values are
    never looked at here) for Rocket.Chat `version`."""
    catalog = catalog_for(version)
    others = [c for c in catalogs() if c is not catalog]
    problems: list[str] = []
    warnings: list[str] = []

    def known(setting_id: str, key: str) -> Mapping[str, Any] | None:
        entry = catalog.lookup(setting_id)
        if entry is not None:
            return entry
        elsewhere = [c for c in others if c.lookup(setting_id) is not None]
        enterprise = [c for c in elsewhere if (c.lookup(setting_id) or {}).get("enterprise")]
        if enterprise and catalog.lacks_enterprise:
            warnings.append(
                f"rocketchat:{key}.{setting_id}: not checked: an Enterprise setting in Rocket.Chat "
                f"{enterprise[0].version}, and the catalog of {catalog.version} has no Enterprise settings"
            )
            return None
        if elsewhere:
            problems.append(
                f"rocketchat:{key}.{setting_id}: registered in Rocket.Chat {', '.join(c.version for c in elsewhere)}, "
                f"not in {catalog.version} (the catalog for {version}): this version would ignore it"
            )
            return None
        problems.append(
            f"rocketchat:{key}.{setting_id}: Rocket.Chat {catalog.version} registers no setting of that id, and "
            f"would silently ignore it{_suggest(setting_id, catalog)}"
        )
        return None

    for setting_id, value in sorted(settings.items()):
        entry = known(setting_id, "settings")
        if entry is None:
            continue
        if is_secret(setting_id, entry):
            problems.append(
                f"rocketchat:settings.{setting_id}: a secret setting (value not shown): store it encrypted with "
                f"`pulumi config set --secret --path 'rocketchat:secretSettings.{setting_id}' '...'` and remove it "
                f"from here with `pulumi config rm --path 'rocketchat:settings.{setting_id}'`"
            )
        elif why := _type_problem(entry, value):
            problems.append(f"rocketchat:settings.{setting_id}: {why}")
    for setting_id in sorted(secret_settings):
        if setting_id in settings:
            problems.append(f"rocketchat:secretSettings.{setting_id}: also in rocketchat:settings; keep one")
        known(setting_id, "secretSettings")
    return problems, warnings
