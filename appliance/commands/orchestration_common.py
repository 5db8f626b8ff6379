"""Shared by the orchestration commands: ``--as USER`` and printing gate results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from kit.gates import Decision

F = TypeVar("F", bound=Callable[..., Any])
MARK = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}


def as_option(func: F) -> F:
    return click.option("--as", "as_user", metavar="USER", default=None,
                        help="Act as USER (default: $STELLA_USER).")(func)


def gate_lines(decision: Decision | dict[str, Any]) -> list[str]:
    gates = decision.record()["gates"] if isinstance(decision, Decision) else decision["gates"]
    return [f"  {MARK.get(g['verdict'], g['verdict']):<4} {g['name']:<21} {g['reason']}" for g in gates]


def echo_gates(decision: Decision | dict[str, Any], err: bool = False) -> None:
    for line in gate_lines(decision):
        click.echo(line, err=err)
