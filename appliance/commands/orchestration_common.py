"""Shared by the orchestration commands: ``--as USER`` and printing gate results."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from kit.gates import Decision     # the gate engine (findings, Rego runner): not needed to print

F = TypeVar("F", bound=Callable[..., Any])
MARK = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}


def as_option(func: F) -> F:
    return click.option("--as", "as_user", metavar="USER", default=None,
                        help="Act as USER (default: $STELLA_USER).")(func)


def gate_lines(decision: Decision | dict[str, Any]) -> list[str]:
    gates = decision["gates"] if isinstance(decision, dict) else decision.record()["gates"]
    return [f"  {MARK.get(g['verdict'], g['verdict']):<4} {g['name']:<21} {g['reason']}" for g in gates]


def echo_gates(decision: Decision | dict[str, Any], err: bool = False) -> None:
    for line in gate_lines(decision):
        click.echo(line, err=err)
