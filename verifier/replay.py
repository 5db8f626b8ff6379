"""``stella-verify replay``: re-run kit.gates.decide on a packet's own inputs.

The replayed record must equal the packet's decision record byte for byte (canonical
JSON). Otherwise the differences are named: which input no longer matches the digest the
record names, which gate changed verdict, reason or trace.

A packet whose event carries a workflow run (``event.workflow``) also has each gate step's
decision replayed (its record and input documents are in the section: the replayed record
must be byte-identical, and the step's verdict must follow from it) and each approval
step's evaluation (kit.gates.approvals over the inputs it recorded: same verdict and reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import canonical
from kit.errors import SchemaError
from kit.evidence import packet
from kit.gates import approvals, decide
from kit.gates.approvals import NAME as APPROVALS
from kit.gates.diff import differences
from kit.inputfile import read_file


@dataclass(frozen=True)
class StepReplay:
    step: str
    kind: str                     # gates | approvals
    identical: bool
    detail: str


@dataclass(frozen=True)
class Replay:
    packet: packet.Packet
    identical: bool
    recorded: str                 # digest of the packet's record
    replayed: str                 # digest of the replayed record
    differences: tuple[str, ...]
    steps: tuple[StepReplay, ...] = ()


def replay(data: bytes) -> Replay:
    """Raises KitFormatError when the packet (or one of its inputs) is malformed."""
    _env, p = packet.parse(data)
    decision = decide(p.inputs)
    replayed = decision.record()
    recorded_bytes = canonical.dumps(p.record)
    same = decision.record_bytes() == recorded_bytes
    carried = {name: canonical.digest(doc) for name, doc in p.inputs.items()}
    diffs = () if same else tuple(differences(p.record, replayed, carried))
    steps = tuple(workflow_steps(p.event))
    return Replay(p, same and all(s.identical for s in steps), "sha256:" + canonical.sha256_hex(recorded_bytes),
                  decision.digest(), diffs + tuple(f"step {s.step}: {s.detail}" for s in steps if not s.identical),
                  steps)


def workflow_steps(event: object) -> list[StepReplay]:
    """Replay the gate and approval steps of the run in *event* (none without one).

    Raises SchemaError when the section is not shaped as docs/evidence.md says."""
    workflow = event.get("workflow") if isinstance(event, dict) else None
    if workflow is None:
        return []
    if not isinstance(workflow, dict) or not isinstance(workflow.get("replay"), dict):
        raise SchemaError("evidence packet: event.workflow.replay is missing or not an object")
    outputs = {s.get("id"): s.get("outputs") for s in workflow.get("steps") or [] if isinstance(s, dict)}
    found = []
    for step, rep in sorted(workflow["replay"].items()):
        if not isinstance(rep, dict):
            raise SchemaError(f"evidence packet: event.workflow.replay.{step} is not an object")
        if rep.get("kind") == "gates":
            found.append(_gates(step, rep, workflow, outputs.get(step)))
        elif rep.get("kind") == "approvals":
            found.append(_approvals(step, rep))
        else:
            raise SchemaError(f"evidence packet: event.workflow.replay.{step}: unknown kind {rep.get('kind')!r}")
    return found


def _gates(step: str, rep: dict[str, Any], workflow: dict[str, Any], outputs: object) -> StepReplay:
    digest = rep.get("decision")
    record = (workflow.get("decisions") or {}).get(digest)
    documents = workflow.get("documents") or {}
    if not isinstance(record, dict) or not isinstance(record.get("inputs"), dict):
        return StepReplay(step, "gates", False, f"decision record {digest} is not in the packet")
    missing = [name for name, d in record["inputs"].items() if d not in documents]
    if missing:
        return StepReplay(step, "gates", False,
                          f"inputs {', '.join(sorted(missing))} of {digest} are not in the packet")
    again = decide({name: documents[d] for name, d in record["inputs"].items()})
    if again.record_bytes() != canonical.dumps(record) or again.digest() != digest:
        return StepReplay(step, "gates", False, f"replaying {digest} gives {again.digest()}")
    wanted = set(rep.get("gates") or [])
    verdict = "fail" if any(g.blocks and g.name in wanted and g.name != APPROVALS for g in again.gates) else "pass"
    said = outputs.get("verdict") if isinstance(outputs, dict) else None
    if said != verdict:
        return StepReplay(step, "gates", False, f"the step says {said}, its decision gives {verdict}")
    return StepReplay(step, "gates", True, f"decision {digest} replayed byte-identical; verdict {verdict}")


def _approvals(step: str, rep: dict[str, Any]) -> StepReplay:
    inputs, result = rep.get("inputs"), rep.get("result")
    if not isinstance(inputs, dict) or not isinstance(result, dict):
        return StepReplay(step, "approvals", False, "its inputs or result are not in the packet")
    try:
        again = approvals.evaluate(inputs)
    except (KeyError, TypeError, AttributeError) as exc:
        return StepReplay(step, "approvals", False, f"its inputs are malformed ({exc!r})")
    if (again.verdict, again.reason) != (result.get("verdict"), result.get("reason")):
        return StepReplay(step, "approvals", False, f"replay gives {again.verdict} ({again.reason}), the packet "
                                                    f"records {result.get('verdict')} ({result.get('reason')})")
    return StepReplay(step, "approvals", True, f"{again.verdict}: {again.reason}")


def replay_file(path: Path) -> Replay:
    return replay(read_file(path, "evidence packet"))
