"""Option types the commands share, so a bad value is a usage error (exit 2) everywhere."""

from __future__ import annotations

import math
from typing import Any

import click


class Seconds(click.ParamType[float, Any]):
    """A finite number of seconds from 0 to *maximum* (``nan``, ``inf`` and negatives are usage errors)."""

    name = "seconds"

    def __init__(self, maximum: float = 86_400.0) -> None:
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{str(value)[:40]!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number) or not 0 <= number <= self.maximum:
            self.fail(f"{str(value)[:40]!r} is not a number of seconds from 0 to {self.maximum:g}", param, ctx)
        return number
