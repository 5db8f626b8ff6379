"""Loading templates: a valid one becomes the model; a bad one names the path of every problem."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit.errors import InvalidWorkflow
from kit.schema import validator
from kit.workflow.default import DOCUMENT, default_template
from kit.workflow.load import check, from_doc, load
from kit.workflow.schemadoc import schema_document
from kit.workflow.steps import REGISTRY

ROOT = Path(__file__).resolve().parents[3]

GOOD = b"""\
schema: stella/workflow/v1
name: prod-canary
description: canary on one host, smoke test, then the rest
steps:
  - id: gates
    uses: gate
  - id: ticket
    uses: approval
    needs: [gates]
    with: {role: approver, count: 2, separationOfDuties: true}
  - id: migrate-check
    uses: script
    needs: [gates]
    with:
      image: registry.local/tools/dbcheck@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      command: [dbcheck, --dry-run]
      memory: 256Mi
    timeout: 10m
    retry: {limit: 2, backoff: {duration: 30s, factor: 3, cap: 5m}}
    outputs: [pending]
  - id: smoke
    uses: health
    needs: [ticket]
    with: {probe: http, port: 8080, path: /healthz, interval: 5s, deadline: 2m}
  - id: deploy
    uses: deploy
    needs: [ticket, migrate-check]
    if: outputs('migrate-check').pending == 0
    with:
      strategy: canary
      canary: 1
      soak: 15m
      health: {probe: http, port: 8080, path: /healthz, deadline: 1m}
      targets: {labels: {tier: web}}
  - id: undo
    uses: rollback
    needs: [deploy]
    if: failure()
  - id: tell
    uses: notify
    needs: [deploy]
    if: always() && status('deploy') == 'failed'
    with: {message: prod deploy failed, severity: critical}
    continueOnError: true
  - id: date-like
    uses: wait
    with: {duration: 1h30m}
"""


def paths_of(data: bytes) -> list[str]:
    return [str(p) for p in check(data)[1]]


def test_a_valid_template_loads_into_the_model() -> None:
    t = load(GOOD, "prod.workflow.yaml")
    assert [s.id for s in t.steps] == ["gates", "ticket", "migrate-check", "smoke", "deploy", "undo", "tell",
                                       "date-like"]
    check_step = t.step("migrate-check")
    assert check_step.timeout == 600 and check_step.retry.limit == 2
    assert (check_step.retry.backoff.duration, check_step.retry.backoff.factor, check_step.retry.backoff.cap) == (
        30, 3, 300)
    assert [check_step.retry.backoff.delay(n) for n in (1, 2, 3)] == [30, 90, 270]
    assert t.step("deploy").condition == "outputs('migrate-check').pending == 0"
    assert t.step("tell").continue_on_error
    assert t.step("ticket").settings == {"role": "approver", "count": 2, "separationOfDuties": True}


def test_the_normalised_document_round_trips_and_fixes_the_digest() -> None:
    t = load(GOOD, "x")
    again = from_doc(json.loads(json.dumps(t.to_doc())), "stored")
    assert again == t and again.digest == t.digest
    reformatted = load(b"# a comment\n" + GOOD.replace(b"{role: approver, count: 2, separationOfDuties: true}",
                       b"\n      role: approver\n      separationOfDuties: true\n      count: 2"), "y")
    assert reformatted.digest == t.digest
    assert load(GOOD.replace(b"count: 2", b"count: 3"), "z").digest != t.digest


BAD = b"""\
schema: stella/workflow/v1
name: prod
steps:
  - id: gates
    uses: gate
    with: {gates: [policy, nope]}
  - id: approve
    uses: approval
    needs: [gates, ghost]
    if: "status('deploy') == 'failed'"
  - id: deploy
    uses: deploy
    needs: [approve, smoke]
    with: {strategy: canary, window: 3, health: {probe: tcp, port: 80, path: /, interval: 5x}}
    timeout: 5x
  - id: smoke
    uses: health
    needs: [deploy]
    with: {probe: tcp, port: 8080, path: /x}
    retry: {limit: 2, backoff: {factor: 1.5}}
  - id: smoke
    uses: teleport
    if: "success( &&"
    bogus: 1
  - id: soak
    uses: wait
"""


def test_every_problem_is_named_by_its_path() -> None:
    assert paths_of(BAD) == [
        "steps[0].with.gates[1]: 'nope' is not one of ['policy', 'freeze', 'previous-environment']",
        "steps[1].if: status('deploy'): not among the step's needs (direct or indirect), so it may not have finished",
        "steps[1].needs[1]: unknown step 'ghost'",
        "steps[2].needs: cycle: deploy needs smoke needs deploy",
        "steps[2].timeout: not a duration: '5x' (use e.g. 90s, 5m, 1h30m, 2d)",
        "steps[2].with.health.interval: not a duration: '5x' (use e.g. 90s, 5m, 1h30m, 2d)",
        "steps[2].with.health.path: path is a setting of an http probe, not of tcp",
        "steps[2].with.window: window is a setting of strategy rolling, not of canary",
        "steps[3].retry.backoff.factor: 1.5 is not of type 'integer'",
        "steps[3].with.path: path is a setting of an http probe, not of tcp",
        "steps[4].bogus: unknown key (accepted: continueOnError, id, if, needs, outputs, retry, timeout, uses, with)",
        "steps[4].id: duplicate id 'smoke' (first at steps[3])",
        "steps[4].if: column 10: expected ')', found '&&'",
        "steps[4].uses: unknown step type 'teleport' (known: approval, deploy, fail, gate, health, notify, "
        "rollback, script, wait)",
        "steps[5].with: required",
    ]
    with pytest.raises(InvalidWorkflow) as caught:
        load(BAD, "bad.yaml")
    assert caught.value.exit_code == 3 and len(caught.value.problems) == 15
    assert caught.value.one_line() == ("invalid-workflow: bad.yaml: steps[0].with.gates[1]: 'nope' is not one of "
                                       "['policy', 'freeze', 'previous-environment'] (and 14 more)")


def step(body: str) -> bytes:
    return (b"schema: stella/workflow/v1\nname: t\nsteps:\n  - id: a\n    uses: gate\n"
            + body.encode())


@pytest.mark.parametrize(("body", "problem"), [
    ("  - id: b\n    uses: deploy\n    with: {strategy: rolling, windw: 2}\n",
     "steps[1].with.windw: not a setting of step type deploy (accepted: canary, health, pause, soak, strategy, "
     "targets, window)"),
    ("  - id: b\n    uses: deploy\n    with: {strategy: rolling, window: 2.0}\n",
     "steps[1].with.window: 2.0: use a whole number"),
    ("  - id: b\n    uses: wait\n    with: {duration: 2026-01-01}\n",
     "steps[1].with.duration: not a duration: '2026-01-01' (use e.g. 90s, 5m, 1h30m, 2d)"),
    ("  - id: b\n    uses: wait\n    with: {duration: 1m}\n    timeout: 0s\n",
     "steps[1].timeout: must be longer than 0s"),
    ("  - id: b\n    uses: wait\n    with: {duration: 1m}\n    timeout: 999999d\n",
     "steps[1].timeout: duration '999999d' is longer than 3650 days"),
    ("  - id: b\n    uses: wait\n    with: {duration: 1m}\n    needs: [b]\n", "steps[1].needs: cycle: b needs b"),
    ("  - id: b\n    uses: fail\n    needs: [a]\n    if: outputs('a').nope == 1\n",
     "steps[1].if: outputs('a').nope: step a has no such output (it has: decision, verdict)"),
    ("  - id: b\n    uses: fail\n    needs: [a]\n    if: status('zz') == 1\n",
     "steps[1].if: status('zz'): unknown step"),
    ("  - id: b\n    uses: approval\n    with: {role: change-board}\n",
     "steps[1].with.role: 'change-board' is not one of ['requester', 'approver', 'deployer', 'admin', 'auditor']"),
    ("  - id: B\n    uses: fail\n", "steps[1].id: 'B' does not match '^[a-z][a-z0-9-]{0,62}$'"),
    ("  - id: b\n    uses: script\n    with: {image: 'busybox:latest', command: [true]}\n",
     "steps[1].with.command[0]: True is not of type 'string'"),
    ("  - id: b\n    uses: fail\n    needs: [a, a]\n", "steps[1].needs: ['a', 'a'] has non-unique elements"),
])
def test_single_problems(body: str, problem: str) -> None:
    assert problem in paths_of(step(body))


@pytest.mark.parametrize(("data", "problem"), [
    (b"schema: stella/workflow/v2\nname: t\nsteps: [{id: a, uses: gate}]\n",
     "schema: unknown schema 'stella/workflow/v2' (this appliance reads stella/workflow/v1)"),
    (b"name: t\nsteps: []\n", "schema: required"),
    (b"[1, 2]\n", "(top): [1, 2] is not of type 'object'"),
    (b"a: &x [1]\nb: *x\n", "(file): not valid YAML: line 2 column 4: aliases (*name) are not allowed"),
    (b"a: 1\na: 2\n", "(file): not valid YAML: line 2 column 1: duplicate key 'a'"),
    (b"\xff\xfe", "(file): not UTF-8 text (byte 0)"),
    (b"x" * (256 * 1024 + 1), "(file): larger than 256 KiB"),
    (b"[" * 1000 + b"]" * 1000, "(file): not valid YAML: line 1 column 33: nested deeper than 32"),
    (b"steps: {1: x}\n", "(file): not valid YAML: line 1 column 9: key 1 is not a string"),
])
def test_the_file_itself(data: bytes, problem: str) -> None:
    assert problem in paths_of(data)


def test_a_cycle_through_three_steps_is_reported_once() -> None:
    data = step("  - id: b\n    uses: fail\n    needs: [d]\n  - id: c\n    uses: fail\n    needs: [b]\n"
                "  - id: d\n    uses: fail\n    needs: [c]\n")
    assert [p for p in paths_of(data) if "cycle" in p] == ["steps[1].needs: cycle: b needs d needs c needs b"]


def test_many_problems_are_capped() -> None:
    steps = "".join(f"  - id: s{i}\n    uses: nope\n" for i in range(400))
    assert len(paths_of(step(steps))) == 200


def test_the_default_template_is_todays_path() -> None:
    t = default_template()
    assert [(s.id, s.uses, s.needs) for s in t.steps] == [
        ("gates", "gate", ()), ("approval", "approval", ("gates",)), ("deploy", "deploy", ("approval",))]
    assert all(s.condition == "success()" and s.retry.limit == 0 and s.timeout is None for s in t.steps)
    assert t.step("approval").settings == {}         # role, count, SoD: the environment's
    assert t.step("deploy").settings == {"strategy": "all-at-once"}
    assert DOCUMENT["name"] == "default"


def test_the_schema_file_is_the_registry_s() -> None:
    shipped = json.loads((ROOT / "docs/schemas/workflow.schema.json").read_text(encoding="utf-8"))
    assert shipped == schema_document()
    assert shipped["$defs"]["step"]["properties"]["uses"]["enum"] == sorted(REGISTRY)
    assert {k.removeprefix("with-") for k in shipped["$defs"] if k.startswith("with-")} == set(REGISTRY)
    assert set(REGISTRY) == {"gate", "approval", "deploy", "health", "wait", "script", "notify", "rollback", "fail"}
    result = subprocess.run([sys.executable, str(ROOT / "scripts/workflowschema.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_good_example_and_the_default_are_valid_per_the_schema_alone() -> None:
    assert not list(validator("workflow").iter_errors(check(GOOD)[0]))
    assert not list(validator("workflow").iter_errors(default_template().to_doc()))


def test_the_docs_describe_every_step_type_and_setting() -> None:
    text = (ROOT / "docs/workflows.md").read_text(encoding="utf-8")
    for name, kind in REGISTRY.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        for setting in kind.properties:
            assert f"`{setting}`" in row, (name, setting)
        for output in kind.outputs:
            assert f"`{output}`" in row, (name, output)
        assert row.rstrip(" |").endswith(kind.resume), name


def test_the_examples_in_the_docs_and_examples_folder_are_valid() -> None:
    text = (ROOT / "docs/workflows.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "schema: stella/workflow/v1" in b]
    files = sorted((ROOT / "examples/workflows").glob("*.workflow.yaml"))
    assert len(blocks) >= 2 and len(files) >= 2
    for source in [*(b.encode() for b in blocks), *(f.read_bytes() for f in files)]:
        assert check(source)[1] == [], source[:80]
    default_block = next(b for b in blocks if "name: default" in b)
    assert load(default_block.encode(), "docs").digest == default_template().digest



def test_a_template_has_one_deploy_step() -> None:
    _doc, problems = check(b"schema: stella/workflow/v1\nname: two\nsteps:\n  - {id: canary, uses: deploy}\n"
                           b"  - {id: rest, uses: deploy, needs: [canary]}\n")
    assert [(p.path, p.message.split(":")[0]) for p in problems] == [
        ("steps[1].uses", "a second deploy step (steps[0] is one)")]
