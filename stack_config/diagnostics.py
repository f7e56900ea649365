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
SECRET_KEYS = ("mongoUrl", "license")


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


def _allowed_keys(path: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `path` (the parent of an unknown key)."""
    model: Any = StackConfig
    for part in path:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
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
            return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _describe(detail: Mapping[str, Any]) -> str:
    loc = tuple(detail["loc"])
    key = _key(loc)
    kind = detail["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        suggestion = _suggest(loc, allowed)
        return f"{key}: unknown key{suggestion}; allowed keys here: {', '.join(allowed)}"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if loc and loc[0] in SECRET_KEYS:
        return f"{key}: {message}"
    got = detail.get("input")
    shown = "" if isinstance(got, dict) or repr(got) in message else f" (got {json.dumps(got, default=str)})"
    return f"{key}: {message}{shown}"


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
