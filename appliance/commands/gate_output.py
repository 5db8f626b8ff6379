"""Gate results as the orchestration commands print them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kit.gates import Decision  # the gate engine (findings, Rego runner): not needed to print

MARK = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}


def gate_lines(decision: Decision | dict[str, Any]) -> list[str]:
    gates = decision["gates"] if isinstance(decision, dict) else decision.record()["gates"]
    return [f"  {MARK.get(g['verdict'], g['verdict']):<4} {g['name']:<21} {g['reason']}" for g in gates]


def echo_gates(decision: Decision | dict[str, Any], err: bool = False) -> None:
    for line in gate_lines(decision):
        click.echo(line, err=err)
