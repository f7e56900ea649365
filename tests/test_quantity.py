"""components.quantity: the one quantity grammar, for the settings' validation and the tools' arithmetic."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml

from components.quantity import is_quantity, parse_quantity
from tools.engine import PROJECT_DIR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250m", Decimal("0.25")),
        ("1", Decimal(1)),
        (2, Decimal(2)),
        (0.5, Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("100u", Decimal("0.0001")),
        ("5n", Decimal("5e-9")),
        ("512Mi", Decimal(512 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("1Ki", Decimal(1024)),
        ("1Ei", Decimal(2**60)),
        ("2k", Decimal(2000)),
        ("128M", Decimal(128_000_000)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),  # an exponent, not exa followed by junk
        ("2E", Decimal(2 * 10**18)),  # exa
        ("5e-1", Decimal("0.5")),
        ("1e+2", Decimal(100)),
    ],
)
def test_quantities_parse_to_exact_amounts(text: str | int | float, expected: Decimal) -> None:
    assert parse_quantity(text) == expected
    assert is_quantity(text) is isinstance(text, str)  # is_quantity asks about text, as a stack's config gives it


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mi",
        ".",
        "1.2.3",
        "10 Mi",
        " 1Gi",
        "1Gi\n",
        "1mi",
        "1KB",
        "1MiB",
        "1K",  # kilo is a lower-case k
        "4 GB",
        "-",
        "-1",  # every quantity here is an amount of a resource: Kubernetes refuses it below zero
        "+1",
        "0x10",
        "1e",
        "1e1.5",
        "1e999999999",  # beyond what Decimal holds
        True,
        None,
        -1,
        float("nan"),
        float("inf"),
    ],
)
def test_malformed_quantities_are_refused(text: Any) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi") as refused:
        parse_quantity(text)
    assert str(refused.value).startswith(f"{text!r} is not"), "the message names the value it refuses"
    assert not is_quantity(text)


@pytest.mark.parametrize("zero", [0, 0.0, "0", "0Mi"])
def test_zero_is_a_quantity(zero: Any) -> None:
    """Nothing is an amount too (a request of `0`); only below zero is refused."""
    assert parse_quantity(zero) == 0


def quantities(config: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every value under a `cpu`, `memory` or `storage` key of a stack's config (`rocketchat:uploads.storage` names a
    kind of store, not an amount: its amounts are `filesystem.size` and `tmpSize`)."""
    if isinstance(config, dict):
        if key == "rocketchat:uploads":
            return [(k, v) for k, v in {**config.get("filesystem", {}), **config}.items() if k in ("size", "tmpSize")]
        return [found for k, v in config.items() for found in quantities(v, k)]
    if isinstance(config, list):
        return [found for item in config for found in quantities(item, key)]
    return [(key, config)] if key in ("cpu", "memory", "storage") else []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_quantity_of_the_stack_files_is_one(stack: str) -> None:
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    found = quantities(config)
    assert found and all(is_quantity(value) for _, value in found), found
