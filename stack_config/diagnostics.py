"""How a bad stack config is reported: every problem at once, each naming its key, with suggestions for misspelt
keys, in one ConfigError that Pulumi prints without a traceback."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from stack_config.schema import StackConfig

CONFIG_NAMESPACE = "rocketchat"
SECRET_KEYS = ("mongoUrl", "license", "secretSettings", "adminPassword", "smtpPassword")
"""The keys that hold secrets: each must be stored encrypted, and no message shows their values."""
SECRET_MAPS = ("secretSettings",)
"""Of those, the ones that are maps (set with `pulumi config set --secret --path`)."""


class ConfigError(pulumi.RunError):
    """Bad stack configuration; the message lists every problem. RunError: Pulumi prints it without a traceback."""

    def __init__(self, stack_file: str, problems: list[str]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid stack configuration in {stack_file} ({count}):\n{lines}")


def stack_file(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"


def _validate_without(raw: Mapping[str, Any], failed: set[tuple[Any, ...]]) -> StackConfig:
    pruned = copy.deepcopy(dict(raw))
    for loc in sorted(failed, key=lambda path: (len(path), [str(part) for part in path]), reverse=True):
        node: Any = pruned
        for part in loc[:-1]:
            node = node[part] if isinstance(node, (dict, list)) and _has(node, part) else None
        if isinstance(node, (dict, list)) and _has(node, loc[-1]):
            del node[loc[-1]]
    try:
        return StackConfig.model_validate(pruned)
    except ValidationError:  # a broken list item shifted its neighbours: drop the whole top-level keys instead
        return StackConfig.model_validate({k: v for k, v in raw.items() if k not in {loc[0] for loc in failed}})


def _has(node: dict | list, part: Any) -> bool:
    return part in node if isinstance(node, dict) else isinstance(part, int) and 0 <= part < len(node)


def _broken(failed: set[tuple[Any, ...]], *path: str) -> bool:
    """Whether the value at `path` (or anything around or inside it) failed validation."""
    return any(loc[: len(path)] == path or path[: len(loc)] == loc for loc in failed)


def _key(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{CONFIG_NAMESPACE}:{text}"


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the object at `path` (list indexes skipped), or None where there is none."""
    model: Any = StackConfig
    for part in path:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        if part not in fields:
            return None
        annotation = fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in candidates:
            inner = getattr(candidate, "__args__", None)
            if inner and isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
                candidate = inner[0]  # list[Model]
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return None
    return model


def _allowed_keys(path: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `path` (the parent of an unknown key)."""
    model = _model_at(path)
    return sorted(f.alias or name for name, f in model.model_fields.items()) if model else []


# Pydantic's messages that name its own types or patterns, in words (the rest of its messages already are).
_IN_WORDS = {
    "model_type": "must be an object of keys",
    "dict_type": "must be an object of keys",
    "model_attributes_type": "must be an object of keys",
    "string_pattern_mismatch": "does not have the form this key takes (see the README's table of keys)",
    "missing": "required",
}
_SHOWN_LENGTH = 120


def shown(value: Any) -> str:
    """A value as the message shows it: JSON (so blanks and newlines are visible), cut short when long."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _SHOWN_LENGTH else f"{text[: _SHOWN_LENGTH - 1]}…"


def _describe(detail: Mapping[str, Any]) -> str:
    loc = tuple(detail["loc"])
    kind = detail["type"]
    if loc and loc[-1] == "[key]":  # a key of a map (labels, annotations, nodeSelector) was refused, not its value
        loc, got = loc[:-2], detail.get("input")
        message = str(detail["msg"]).removeprefix("Value error, ")
        if isinstance(got, str) and message.startswith(repr(got)):  # the stack's own validators lead with it
            return f"{_key(loc)}: the key {message}"
        return f"{_key(loc)}: the key {shown(got)}: {message}"
    key = _key(loc)
    if kind == "extra_forbidden":
        return f"{key}: unknown key{_unknown_key_hint(loc)}"
    message = _IN_WORDS.get(kind) or str(detail["msg"]).removeprefix("Value error, ")
    if kind in ("model_type", "dict_type", "model_attributes_type") and (allowed := _allowed_keys(loc)):
        message += f" ({', '.join(allowed)})"
    if loc and loc[0] in SECRET_KEYS:
        return f"{key}: {message} (value not shown)"
    if kind == "missing":
        return f"{key}: {message}"
    got = detail.get("input")
    already = isinstance(got, str) and message.startswith(repr(got))  # the stack's own validators lead with it
    return f"{key}: {message}" if already else f"{key}: {message} (got {shown(got)})"


def _unknown_key_hint(loc: tuple[Any, ...]) -> str:
    """What was meant by an unknown key: the same key as a nested one (set without `--path`), a field's Python name,
    a sibling that looks alike, or a key of that name elsewhere; then the keys allowed there."""
    typo = str(loc[-1])
    allowed = _allowed_keys(loc[:-1])
    listing = f"; allowed keys here: {', '.join(allowed)}"
    if len(loc) == 1 and ("." in typo or "[" in typo):
        path = typo.replace("[", ".").replace("]", "").split(".")
        nested = _key(path)
        known = tuple(path) in {tuple(p) for p in _leaf_paths()}
        return (
            f": {'it is' if known else 'it looks like'} the nested key {nested}, which is set with `--path` (without "
            f"it, Pulumi stores one flat key with dots in its name): `pulumi config rm {_key(loc)}`, then "
            f"`pulumi config set --path {nested} <value>`"
            + ("" if known else f" (keys allowed at the top: {', '.join(_allowed_keys(()))})")
        )
    model = _model_at(loc[:-1])
    if model is not None:
        by_python_name = {name: info.alias for name, info in model.model_fields.items() if info.alias}
        if typo in by_python_name:
            spelt = _key((*loc[:-1], by_python_name[typo]))
            return f": a stack file spells it {spelt} (each key has one spelling, in camelCase){listing}"
    return f"{_suggest(loc, allowed)}{listing}"


def _leaf_paths(model: type[BaseModel] = StackConfig, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        paths.append(path)
        nested = [a for a in (info.annotation, *getattr(info.annotation, "__args__", ())) if isinstance(a, type)]
        for candidate in nested:
            if issubclass(candidate, BaseModel):
                paths += _leaf_paths(candidate, path)
    return paths


def _suggest(loc: tuple[Any, ...], allowed: list[str]) -> str:
    """A hint for a misspelt key: a sibling that looks alike, or else a key of that name elsewhere."""
    typo = str(loc[-1])
    close = difflib.get_close_matches(typo, allowed, n=1)
    if close:
        return f" (did you mean '{_key((*loc[:-1], close[0]))}'?)"
    elsewhere = [p for p in _leaf_paths() if difflib.get_close_matches(typo, [p[-1]], n=1, cutoff=0.8)]
    if elsewhere:
        return f" (did you mean {' or '.join(repr(_key(p)) for p in elsewhere[:3])}?)"
    return ""
