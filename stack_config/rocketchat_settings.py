"""Rocket.Chat settings given as code (`rocketchat:settings`, `rocketchat:secretSettings`), checked against what
Rocket.Chat itself registers, and turned into the `OVERWRITE_SETTING_<id>` variables its monolith reads.

Why check at all: Rocket.Chat applies `OVERWRITE_SETTING_<id>` only while it registers a setting of that id, and
converts the text by the setting's type (docs/rocketchat-facts.md, section a). A misspelt id, an id of another
version, or a value of the wrong kind is therefore ignored or stored wrong without any error; a secret given as a
plain setting sits unencrypted in the stack file. Each of those is refused here, before anything is deployed.

Where the facts come from: `components/data/rocketchat_settings.json`, written by `scripts/settings-catalog` from
Rocket.Chat's TypeScript sources for two versions, 7.7.1 and 8.6.1. Both are APPROXIMATE: they were read from
third-party copies of those release trees, not from Rocket.Chat's tag commits (each version's `approximate_reason`
says how the copy was established), and the 8.6.1 copy has no enterprise code (its `missing`), so an enterprise id
that only the 7.7.1 entry knows is warned about on 8.x, not refused. Ids built at run time (a custom OAuth
provider's fields, SAML providers, assets) are `patterns`; a few registrations the parser could not read are listed
under `unresolved` (search providers' settings among them), so an id registered only there is not known here.

Limit, said plainly: a secret map set partly in plain text cannot be told apart by the program. If one leaf of
`rocketchat:secretSettings` was set with `--secret` and another without, Pulumi hands the program the whole key as
one secret, and nothing says which leaves sit unencrypted in the stack file. Only the CLI's `pulumi config` listing
(or the stack file itself) shows it.

This module uses no Pulumi API: it is plain data in, messages out.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from components.versions import Version

CATALOG_FILE = Path(__file__).resolve().parent.parent / "components" / "data" / "rocketchat_settings.json"
CONFIG_NAMESPACE = "rocketchat"
SETTINGS_KEY = "settings"
SECRET_SETTINGS_KEY = "secretSettings"

SETTING_ENV_PREFIX = "OVERWRITE_SETTING_"
"""Rocket.Chat's settings registry reads `OVERWRITE_SETTING_<id>` on every start and stores the converted value
(`overwriteSetting.ts`); the bare `<id>` form only seeds a first start, so the program never uses it."""

# Kubernetes accepts an env var name matching `[-._a-zA-Z][-._a-zA-Z0-9]*` (k8s.io/apimachinery validation,
# IsEnvVarName; newer API servers relax it further). Every id in both catalogs fits, including those with `-`
# (`Accounts_OAuth_Custom-<name>-secret`, `theme-custom-css`) and `.` (`Search.Provider`): the name only has to
# survive the API server and Node, and the image starts `node main.js` directly (exec form, no shell that would drop
# names a shell cannot spell). A custom provider's `<name>` is `[A-Za-z0-9_]` by construction (addOAuthService.ts).
K8S_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")

# Settings that hold a credential although Rocket.Chat registers them as plain `string` settings (neither
# `secret: true` nor type `password`), so the catalog cannot mark them secret. docs/rocketchat-facts.md names the
# custom OAuth client secret and says to treat "anything the program knows to be a credential" the same way; the
# others were read in the registrations (`apps/meteor/server/settings/*.ts`, 8.6.1 and 7.7.1 copies): client
# secrets, a private key, API keys, a token-signing secret, passwords and tokens. A pattern is named as the catalog
# names it (`<name>` standing for the provider).
CREDENTIAL_SETTINGS = frozenset(
    {
        "Accounts_OAuth_Custom-<name>-secret",  # a custom OAuth provider's client secret (addOAuthService.ts)
        "Accounts_OAuth_Apple_secretKey",  # Sign in with Apple: the private key (oauth.ts)
        "Accounts_OAuth_Nextcloud_secret",  # client secret (oauth.ts)
        "Accounts_OAuth_Tokenpass_secret",  # client secret (7.7.1 only)
        "AutoTranslate_DeepLAPIKey",  # API keys of the translation providers (message.ts)
        "AutoTranslate_GoogleAPIKey",
        "AutoTranslate_MicrosoftAPIKey",
        "FileUpload_json_web_token_secret_for_files",  # signs the tokens that open uploaded files (file-upload.ts)
        "IRC_Local_Password",  # the IRC bridge's passwords (irc.ts)
        "IRC_Peer_Password",
        "Livechat_External_Queue_Token",  # the secret token of an external routing service (omnichannel.ts)
        "Federation_Matrix_as_token",  # the Matrix bridge's application-service and homeserver tokens
        "Federation_Matrix_hs_token",
    }
)

STRING_TYPES = frozenset({"string", "password", "code", "relativeUrl", "color", "font", "language", "timezone"})
"""Types whose value is text: Rocket.Chat keeps an environment value of these as it is (unless it is true/false)."""
NUMBER_TYPES_KEPT_AS_TEXT = frozenset({"timespan", "range"})
"""Types that hold a number, but whose environment value Rocket.Chat keeps as text (its `convertValue` parses numbers
for `int` alone in 7.7.1 and 8.6.1), so the environment cannot give them the number."""
JS_MAX_SAFE_INTEGER = 2**53 - 1
"""The largest whole number `parseInt` returns exactly (a JavaScript number is a double)."""

CUSTOM_OAUTH_PREFIX = "Accounts_OAuth_Custom-"
_OAUTH_NAME_CHARS = re.compile(r"[A-Za-z0-9_]+")
_PLAIN_PATH_PART = re.compile(r"[A-Za-z0-9_-]+")
_SHOWN_LENGTH = 120


@dataclass(frozen=True)
class Setting:
    """One registered setting, or the shape every id of a pattern shares. `id` is the id, or the pattern's name
    (`Accounts_OAuth_Custom-<name>-url`) when the setting came from a pattern."""

    id: str
    type: str
    values: tuple[str, ...] | None = None
    """A select's (or multiSelect's) keys when the source lists them; None when they are computed at run time."""
    secret: bool = False
    enterprise: bool = False
    source: str = ""
    default: Any = None

    @property
    def holds_secret(self) -> bool:
        """Secret for Rocket.Chat (flag or type password) or, though it says not, a credential."""
        return self.secret or self.type == "password" or self.id in CREDENTIAL_SETTINGS


@dataclass(frozen=True)
class Pattern:
    """Ids registered at run time: `regex` captures the variable part (a provider's name, an asset's)."""

    name: str
    regex: re.Pattern[str]
    setting: Setting

    @property
    def prefix(self) -> str:
        return self.name.partition("<")[0]

    @property
    def suffix(self) -> str:
        return self.name.partition(">")[2]


@dataclass(frozen=True)
class Catalog:
    """What one catalog version says Rocket.Chat registers, and what its sources lacked."""

    version: str
    approximate: bool
    approximate_reason: str
    settings: Mapping[str, Setting]
    patterns: tuple[Pattern, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def lacks_enterprise(self) -> bool:
        """Whether the sources read lacked the enterprise code (8.6.1: `apps/meteor/ee/`), so an enterprise id
        absent here may still exist in that version."""
        return any("enterprise" in entry.lower() for entry in self.missing)

    def lookup(self, setting_id: str) -> Setting | None:
        """The setting of that id: registered as such, or else the pattern that captures the shortest variable part
        (`Accounts_OAuth_Custom-<name>` also matches `...-Gitlab-url`; the `-url` pattern is the one meant)."""
        if setting_id in self.settings:
            return self.settings[setting_id]
        matches = [(len(name), pattern) for pattern in self.patterns if (name := _captured(pattern, setting_id))]
        return min(matches, key=lambda match: match[0])[1].setting if matches else None

    def suggestions(self, setting_id: str) -> list[str]:
        """The ids closest to a misspelt one: registered ids, and each pattern filled in with the provider (or
        asset) name the id seems to carry, so `Accounts_OAuth_Custom-Gitlab-urll` suggests `...-Gitlab-url`."""
        candidates = set(self.settings) | {c for p in self.patterns if (c := _filled_in(p, setting_id, self))}
        candidates.discard(setting_id)
        return difflib.get_close_matches(setting_id, sorted(candidates), n=3, cutoff=0.75)


def _captured(pattern: Pattern, setting_id: str) -> str | None:
    """The variable part of `setting_id` if `pattern` can have registered it. A custom OAuth provider's name keeps
    only `[a-z0-9_]` (addOAuthService.ts), so a captured name with other characters is a misspelt field instead."""
    match = pattern.regex.match(setting_id)
    if not match:
        return None
    name = match.group(1)
    if pattern.prefix == CUSTOM_OAUTH_PREFIX and not _OAUTH_NAME_CHARS.fullmatch(name):
        return None
    return name


def _filled_in(pattern: Pattern, setting_id: str, catalog: Catalog) -> str | None:
    """`pattern` with its placeholder replaced by the name `setting_id` seems to carry (see `suggestions`)."""
    if not setting_id.startswith(pattern.prefix) or "<" not in pattern.name:
        return None
    separators = {p.suffix[:1] for p in catalog.patterns if p.prefix == pattern.prefix and p.suffix}
    rest = setting_id[len(pattern.prefix) :]
    name = re.split("|".join(map(re.escape, separators)), rest)[0] if separators else rest
    if pattern.prefix == CUSTOM_OAUTH_PREFIX:
        name = registered_oauth_name(name) or name
    return f"{pattern.prefix}{name}{pattern.suffix}"


def registered_oauth_name(name: str) -> str:
    """The provider name Rocket.Chat puts in a custom OAuth provider's ids: lower-cased, stripped of everything but
    `a-z0-9_`, first letter capitalised (`addOAuthService.ts`, both catalog versions): `gitlab` gives `Gitlab`."""
    kept = re.sub(r"[^a-z0-9_]", "", name.lower())
    return kept[:1].upper() + kept[1:]


# ------------------------------------------------------------------------------------------------ the catalog file


def _setting(setting_id: str, entry: Mapping[str, Any]) -> Setting:
    values = entry.get("values")
    return Setting(
        id=setting_id,
        type=entry.get("type", "string"),  # the registry's own default when a registration gives none
        values=tuple(str(v) for v in values) if values is not None else None,
        secret=bool(entry.get("secret")),
        enterprise=bool(entry.get("enterprise")),
        source=entry.get("source", ""),
        default=entry.get("default"),
    )


def _catalog(label: str, entry: Mapping[str, Any]) -> Catalog:
    return Catalog(
        version=label,
        approximate=bool(entry.get("approximate")),
        approximate_reason=entry.get("approximate_reason", ""),
        settings={setting_id: _setting(setting_id, e) for setting_id, e in entry["settings"].items()},
        patterns=tuple(
            Pattern(name=name, regex=re.compile(p["regex"]), setting=_setting(name, p))
            for name, p in (entry.get("patterns") or {}).items()
        ),
        missing=tuple(entry.get("missing") or ()),
    )


@cache
def catalogs() -> tuple[Catalog, ...]:
    """Every catalog version, oldest first (read once: the file is data shipped with the program)."""
    data = json.loads(CATALOG_FILE.read_text())
    ordered = sorted(data["versions"].items(), key=lambda item: Version.parse(item[0]))
    return tuple(_catalog(label, entry) for label, entry in ordered)


def catalog_for(version: str) -> Catalog:
    """The catalog that describes Rocket.Chat `version`: the newest of the same major at or below it (settings are
    added and removed between minors, so an older tree is the closer guess for a patch or minor above it), else the
    oldest of that major, else the nearest major. Raises ValueError for a text that is not an exact version."""
    wanted = Version.parse(version)
    known = [(Version.parse(c.version), c) for c in catalogs()]
    same_major = [(v, c) for v, c in known if v.major == wanted.major]
    at_or_below = [c for v, c in same_major if v <= wanted]
    if at_or_below:
        return at_or_below[-1]
    if same_major:
        return same_major[0][1]
    return min(known, key=lambda vc: (abs(vc[0].major - wanted.major), -vc[0].major))[1]


# ------------------------------------------------------------------------------------------------ environment


def setting_env_name(setting_id: str) -> str:
    """The variable that forces setting `setting_id` on every start. Raises ValueError for an id Kubernetes would
    refuse as an env var name (no registered id is one, see K8S_ENV_NAME)."""
    name = f"{SETTING_ENV_PREFIX}{setting_id}"
    if not K8S_ENV_NAME.fullmatch(name):
        raise ValueError(f"{setting_id!r}: {name!r} is not a name Kubernetes accepts for an environment variable")
    return name


def rocketchat_value(setting_type: str, text: str) -> Any:
    """What Rocket.Chat stores from the environment text `text` for a setting of `setting_type`: its `convertValue`
    (both catalog versions). `true`/`false` in any case become booleans whatever the type; `int` goes through
    `parseInt` (NaN, returned as None, when no number leads the text); `multiSelect` is parsed as JSON (invalid JSON
    raises ValueError: Rocket.Chat logs it and keeps the old value); the rest stays text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if setting_type == "int":
        return _parse_int(text)
    if setting_type == "multiSelect":
        return json.loads(text)
    return text


def _parse_int(text: str) -> int | None:
    """JavaScript's `parseInt(text)` without a radix: leading blanks, a sign, `0x` for hexadecimal, then as many
    digits as lead; None for NaN."""
    match = re.match(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|\d+)", text)
    if not match:
        return None
    digits = match.group(2)
    number = int(digits, 16) if digits[:2].lower() == "0x" else int(digits)
    return -number if match.group(1) == "-" else number


def env_value(setting_type: str, value: Any) -> str:
    """The text for `OVERWRITE_SETTING_<id>` from which Rocket.Chat's own conversion (`rocketchat_value`) yields
    `value`: booleans `true`/`false`, whole numbers in decimal, a multiSelect as a JSON list, text as it is. Raises
    ValueError when no text does (the cases `setting_problems` refuses), e.g. the text `true` for a string setting,
    which Rocket.Chat would turn into a boolean."""
    if setting_type == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if setting_type == "int" and _is_whole(value) and abs(value) <= JS_MAX_SAFE_INTEGER:
        return str(value)
    if setting_type == "multiSelect" and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))
    if setting_type == "select" and _is_whole(value):
        return str(value)  # a select's keys are text: `--path` turns `2` into a number, Rocket.Chat wants "2"
    if (setting_type in STRING_TYPES or setting_type == "select") and isinstance(value, str):
        if not _becomes_boolean(value):
            return value
    raise ValueError(f"no environment text makes Rocket.Chat store {_shown(value)} in a {setting_type} setting")


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _becomes_boolean(text: str) -> bool:
    return text.lower() in ("true", "false")


# ------------------------------------------------------------------------------------------------ the checks


def _key(map_key: str, setting_id: str) -> str:
    """The full config key as `pulumi config --path` spells it: dotted, or in brackets when the id has a `.` of
    its own (`rocketchat:settings["Search.Provider"]`)."""
    part = f".{setting_id}" if _PLAIN_PATH_PART.fullmatch(setting_id) else f'["{setting_id}"]'
    return f"{CONFIG_NAMESPACE}:{map_key}{part}"


def _shown(value: Any) -> str:
    """A plain (never a secret) value as a message shows it: JSON, cut short, with what kind of value it is."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    text = text if len(text) <= _SHOWN_LENGTH else f"{text[: _SHOWN_LENGTH - 1]}…"
    return text if value is None else f"{text} ({_kind(value)})"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, (list, tuple)) else "a map" if isinstance(value, Mapping) else "a value"


def _keys(values: tuple[str, ...]) -> str:
    return ", ".join(json.dumps(v) for v in values)


def _against(catalog: Catalog, version: str) -> str:
    """`Rocket.Chat 8.6.1`, naming the version asked for too when the catalog stands in for it."""
    return f"{catalog.version}" if catalog.version == version else f"{catalog.version} (the catalog for {version})"


@dataclass(frozen=True)
class _Identified:
    """How an id resolved: the setting to check it against, and whether its value can be checked."""

    setting: Setting | None
    checked: bool = True


def _identify(
    catalog: Catalog, version: str, map_key: str, setting_id: str, problems: list[str], warnings: list[str]
) -> _Identified:
    """Rules 1 and 2: the setting of that id in `catalog`, or a problem (unknown, or another version's only), or a
    warning when only another version's enterprise code registers it and `catalog` lacks that code."""
    key = _key(map_key, setting_id)
    setting = catalog.lookup(setting_id)
    if setting is not None:
        _warn_oauth_name(key, setting_id, setting, warnings)
        return _Identified(setting)
    elsewhere = [(c, s) for c in catalogs() if c is not catalog and (s := c.lookup(setting_id)) is not None]
    if elsewhere and catalog.lacks_enterprise and all(s.enterprise for _, s in elsewhere):
        versions = ", ".join(c.version for c, _ in elsewhere)
        used = "" if catalog.version == version else f" (used for {version})"
        warnings.append(
            f"{key}: not checked: an enterprise setting in Rocket.Chat {versions}, and the {catalog.version} "
            f"catalog{used} was read without Rocket.Chat's enterprise code ({_missing(catalog)}), so it can "
            "neither confirm nor refuse the id"
        )
        return _Identified(elsewhere[-1][1], checked=False)
    if elsewhere:
        versions = ", ".join(c.version for c, _ in elsewhere)
        problems.append(
            f"{key}: registered in Rocket.Chat {versions}, not in {_against(catalog, version)}: this version "
            "would ignore it"
        )
        return _Identified(None)
    problems.append(f"{key}: {_unknown(catalog, version, map_key, setting_id)}")
    return _Identified(None)


def _missing(catalog: Catalog) -> str:
    return ", ".join(entry.partition(" (")[0] for entry in catalog.missing if "enterprise" in entry.lower())


def _unknown(catalog: Catalog, version: str, map_key: str, setting_id: str) -> str:
    text = f"Rocket.Chat {_against(catalog, version)} registers no setting of that id, so it would ignore it"
    close = catalog.suggestions(setting_id)
    if close:
        text += f" (did you mean {' or '.join(repr(_key(map_key, c)) for c in close)}?)"
    if catalog.lacks_enterprise:
        text += (
            "; note that this catalog was read without Rocket.Chat's enterprise code, so it misses enterprise "
            f"settings added after {_newest_with_enterprise()}"
        )
    return text


def _newest_with_enterprise() -> str:
    return next((c.version for c in reversed(catalogs()) if not c.lacks_enterprise), "any catalog version")


def _warn_oauth_name(key: str, setting_id: str, setting: Setting, warnings: list[str]) -> None:
    """A custom OAuth provider's ids carry its name as Rocket.Chat rewrites it (`gitlab` -> `Gitlab`); an id spelt
    otherwise matches the pattern but is never registered, so its variable would never be read."""
    if not setting.id.startswith(CUSTOM_OAUTH_PREFIX) or "<" not in setting.id:
        return
    suffix = setting.id.partition(">")[2]
    given = setting_id.removeprefix(CUSTOM_OAUTH_PREFIX).removesuffix(suffix)
    registered = registered_oauth_name(given)
    if given != registered:
        warnings.append(
            f"{key}: Rocket.Chat registers a custom OAuth provider named {given!r} as "
            f"{CUSTOM_OAUTH_PREFIX}{registered}{suffix} (it lower-cases the name and capitalises its first letter), "
            "so a variable for this id would never be read"
        )


def _secret_problem(key: str, setting_id: str, setting: Setting) -> str:
    """Rule 4: the commands that move a secret out of the plain map (its value is never shown)."""
    why = (
        "a credential, though Rocket.Chat registers it as a plain setting"
        if setting.id in CREDENTIAL_SETTINGS
        else f"a secret setting ({setting.type})"
    )
    return (
        f"{key}: {why}, given in plain text (value not shown): store it encrypted with "
        f"`pulumi config set --secret --path '{_key(SECRET_SETTINGS_KEY, setting_id)}' '...'` and remove the plain "
        f"one with `pulumi config rm --path '{_key(SETTINGS_KEY, setting_id)}'`"
    )


def _type_problem(setting: Setting, catalog: Catalog, key: str, value: Any) -> str | None:
    """Rule 3: what is wrong with a plain `value` for `setting`, saying the type, the value and what to give."""
    kind = setting.type
    got = f"{kind} setting, got {_shown(value)}"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"{got}: give true or false"
    if kind == "int":
        return _int_problem(got, value)
    if kind == "select":
        return _select_problem(setting, got, value)
    if kind == "multiSelect":
        return _multiselect_problem(setting, got, value)
    if kind in STRING_TYPES:
        return _text_problem(got, key, value)
    return _unsettable(setting, catalog)


def _int_problem(got: str, value: Any) -> str | None:
    if not _is_whole(value):
        return f"{got}: give a whole number (without quotes)"
    if abs(value) > JS_MAX_SAFE_INTEGER:
        return f"{got}: larger than Rocket.Chat holds exactly (a JavaScript number: at most {JS_MAX_SAFE_INTEGER})"
    return None


def _select_problem(setting: Setting, got: str, value: Any) -> str | None:
    text = str(value) if _is_whole(value) else value  # `--path` stores `2` as a number; the key is the text "2"
    if not isinstance(text, str):
        listing = f"one of {_keys(setting.values)}" if setting.values else "one of its keys"
        return f"{got}: give {listing}"
    if setting.values is not None and text not in setting.values and text != setting.default:
        meant = _closest_key(text, setting.values)
        guess = f" (did you mean {json.dumps(meant)}?)" if meant else ""
        return f"{got}{guess}: give one of {_keys(setting.values)}"
    if _becomes_boolean(text):
        return f"{got}: Rocket.Chat turns the text true or false into a boolean, which no key of a select is"
    return None


def _closest_key(text: str, keys: tuple[str, ...]) -> str | None:
    """The key a misspelt select value was meant to be: the same but for case (`gridfs`), or a close spelling."""
    by_lower = {key.lower(): key for key in keys}
    close = difflib.get_close_matches(text.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None


def _multiselect_problem(setting: Setting, got: str, value: Any) -> str | None:
    listing = f" of {_keys(setting.values)}" if setting.values else ""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return f"{got}: give a list of keys{listing}"
    unknown = [v for v in value if setting.values is not None and v not in setting.values]
    return f"{got}: {_keys(tuple(unknown))} not among its keys{listing}" if unknown else None


def _text_problem(got: str, key: str, value: Any) -> str | None:
    if isinstance(value, bool) or (isinstance(value, str) and _becomes_boolean(value)):
        return (
            f"{got}: Rocket.Chat turns the text true or false from the environment into a boolean whatever the "
            "setting's type, so this setting cannot be given it as code"
        )
    if isinstance(value, (int, float)):
        return f"{got}: give text: `pulumi config set --path '{key}' --type string '{value}'`"
    return None if isinstance(value, str) else f"{got}: give text"


def _unsettable(setting: Setting, catalog: Catalog) -> str:
    if setting.type in NUMBER_TYPES_KEPT_AS_TEXT:
        return (
            f"{setting.type} setting: Rocket.Chat {catalog.version} keeps an environment value of this type as text "
            "(it parses numbers for int settings only) while the setting holds a number; set it in the admin UI"
        )
    return f"{setting.type} setting: not a value an environment variable can set; set it in the admin UI"


def _secret_value_problem(setting: Setting, catalog: Catalog, value: Any) -> str | None:
    """Rule 5 and rule 3 for a secret: the value must be non-empty text that Rocket.Chat converts to the setting's
    kind. The messages never show the value, nor anything derived from it beyond the kind that was wrong."""
    if not isinstance(value, str) or not value:
        return "empty or not text (value not shown): there is nothing to force; give the secret as text"
    kind = setting.type
    converted = rocketchat_value(kind, value) if kind != "multiSelect" else None
    if kind == "boolean" and not isinstance(converted, bool):
        return "boolean setting: its value (not shown) is neither true nor false"
    if kind == "int" and not re.fullmatch(r"[+-]?\d+", value.strip()):
        return (
            "int setting: its value (not shown) is not a whole number in decimal: Rocket.Chat's parseInt would keep "
            "only a number leading it, or store NaN"
        )
    if kind == "select" and setting.values is not None and value not in setting.values:
        return f"select setting: its value (not shown) is none of {_keys(setting.values)}"
    if kind == "multiSelect" and not _is_json_list_of_text(value):
        return "multiSelect setting: its value (not shown) is not a JSON list of keys"
    if kind in STRING_TYPES and isinstance(converted, bool):
        return (
            f"{kind} setting: its value (not shown) is a text that Rocket.Chat turns into a boolean (true or "
            "false, any case) whatever the setting's type"
        )
    if kind not in STRING_TYPES | {"boolean", "int", "select", "multiSelect"}:
        return _unsettable(setting, catalog)
    return None


def _is_json_list_of_text(text: str) -> bool:
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return isinstance(parsed, list) and all(isinstance(v, str) for v in parsed)


def setting_problems(
    version: str, settings: Mapping[str, Any], secret_settings: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of `rocketchat:settings` (id -> plain value) and `rocketchat:secretSettings` (id ->
    secret text) for Rocket.Chat `version`, each line starting with the full config key. Secret values are never
    shown, nor plain values of settings that hold a secret. Raises ValueError when `version` is not exact."""
    catalog = catalog_for(version)
    problems: list[str] = []
    warnings: list[str] = []
    for setting_id, value in sorted(settings.items()):
        key = _key(SETTINGS_KEY, setting_id)
        found = _identify(catalog, version, SETTINGS_KEY, setting_id, problems, warnings)
        if found.setting is None:
            continue
        if found.setting.holds_secret:  # even when unchecked: the other version's entry says it is a secret
            problems.append(_secret_problem(key, setting_id, found.setting))
        elif found.checked and (why := _type_problem(found.setting, catalog, key, value)):
            problems.append(f"{key}: {why}")
    for setting_id, value in sorted(secret_settings.items()):
        key = _key(SECRET_SETTINGS_KEY, setting_id)
        if setting_id in settings:
            problems.append(
                f"{key}: also in {CONFIG_NAMESPACE}:{SETTINGS_KEY}: a setting belongs in one of the two; remove one "
                f"with `pulumi config rm --path '{_key(SETTINGS_KEY, setting_id)}'` or "
                f"`pulumi config rm --path '{key}'`"
            )
        found = _identify(catalog, version, SECRET_SETTINGS_KEY, setting_id, problems, warnings)
        if found.setting is not None and found.checked:
            if why := _secret_value_problem(found.setting, catalog, value):
                problems.append(f"{key}: {why}")
        elif not isinstance(value, str) or not value:
            problems.append(f"{key}: empty or not text (value not shown): there is nothing to force")
    return problems, warnings
