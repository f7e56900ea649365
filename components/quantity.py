"""Kubernetes quantities (`250m`, `1.5`, `512Mi`, `2G`, `1e3`) as this project accepts them: one grammar for the
stack settings' validation and for the tools' arithmetic (`tools.plan`'s resource summary).

Pure Python (no Pulumi, no third-party import), so the tools use it without loading the program.

The grammar is Kubernetes' own (`resource.Quantity` in k8s.io/apimachinery), without the sign: every quantity here is
an amount of CPU, memory or storage, which Kubernetes refuses below zero. No blanks anywhere.

    quantity ::= number [ suffix ]
    number   ::= digits | digits "." [ digits ] | "." digits
    suffix   ::= binary | decimal | ( "e" | "E" ) [ "+" | "-" ] digits      (an exponent: 1e3 = 1000)
    binary   ::= Ki | Mi | Gi | Ti | Pi | Ei                                 (powers of 1024)
    decimal  ::= n | u | m | k | M | G | T | P | E                           (10^-9 ... 10^18)

`1E3` is 1000 (an exponent) and `2E` two exa. A YAML or JSON number (`cpu: 2`, `cpu: 0.5`) is a quantity too, when
it is finite and not negative; `true` is not.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, DecimalException

QUANTITY_PATTERN = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exponent>[+-]?[0-9]+))?"
)
"""The grammar above, to be matched against the whole text (`fullmatch`)."""

BINARY_SUFFIXES: dict[str, int] = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL_SUFFIXES: dict[str, Decimal] = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def _refused(value: object) -> ValueError:
    return ValueError(f"{value!r} is not a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi")


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact amount of a quantity: CPU in cores, memory and storage in bytes (`250m` -> 0.25, `1Ki` -> 1024).

    Raises ValueError, saying `... is not a Kubernetes quantity such as 250m, 1, 512Mi or 2Gi`, for anything else.
    """
    if isinstance(value, bool):
        raise _refused(value)
    if isinstance(value, int | float):
        if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
            raise _refused(value)
        return Decimal(str(value))
    match = QUANTITY_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise _refused(value)
    try:
        number = Decimal(match["number"])
        if match["exponent"] is not None:
            return number.scaleb(int(match["exponent"]))
        suffix = match["suffix"] or ""
        if suffix in BINARY_SUFFIXES:
            return number * BINARY_SUFFIXES[suffix]
        return number * DECIMAL_SUFFIXES[suffix]
    except (DecimalException, ValueError) as error:  # an exponent beyond what Decimal holds
        raise _refused(value) from error


def is_quantity(text: str) -> bool:
    """Whether `text` is a quantity written as text (the form a stack's config gives): exactly when
    `parse_quantity(text)` succeeds. False for anything that is not a str."""
    if not isinstance(text, str):
        return False
    try:
        parse_quantity(text)
    except ValueError:
        return False
    return True
