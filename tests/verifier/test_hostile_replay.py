"""Replaying a hostile packet is safe (issue 17, principle 8): the packet's own Rego runs in
a child with a memory limit and a maximum time the packet cannot raise, the child is always
reaped, a limit that is not a number is a malformed packet, and an engine that cannot start
(``ulimit -v``) is an error, never a verdict (principle 11)."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import keys
from appliance.home import Home
from kit.errors import BadGateInput
from kit.evidence import packet
from kit.gates import policy, rego
from tests.verifier.test_packets import exported, payload  # noqa: F401  (fixture)

VERIFY = Path(sys.executable).parent / "stella-verify"


def _repacked(home: Path, out: Path, tmp_path: Path, **environment: object) -> Path:
    body = payload(out)
    body["inputs"]["environment"].update(environment)
    changed = tmp_path / "hostile.stella-evidence"
    changed.write_bytes(packet.build("release_decision", body["decisionRecord"], body["inputs"],
                                     keys.signer(Home(home))))
    return changed


def _replay(path: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VERIFY), "replay", str(path)], capture_output=True, text=True, timeout=120,
                          **kw)  # type: ignore[call-overload]


def _survivors(path: Path) -> list[int]:
    """Processes still running with *path* on their command line (a forked policy child would be one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("value", ["30", True, -5, [], {"s": 1}], ids=["string", "bool", "negative", "list",
                                                                      "object"])
def test_a_time_limit_that_is_not_a_number_is_a_malformed_packet(exported: tuple[Path, Path, Path],  # noqa: F811
                                                                 tmp_path: Path, value: object) -> None:
    home, out, _pub = exported
    done = _replay(_repacked(home, out, tmp_path, policyTimeoutSeconds=value))
    assert done.returncode == 3, done.stderr
    assert "bad-input" in done.stderr and "policyTimeoutSeconds" in done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("field,value", [("soakSeconds", "3600"), ("stalenessBudgetHours", [1]),
                                         ("separationOfDuties", "yes"), ("approverRole", 5), ("stopTheLine", 7)])
def test_an_environment_field_of_the_wrong_type_is_a_malformed_packet(exported: tuple[Path, Path, Path],  # noqa: F811
                                                                      tmp_path: Path, field: str,
                                                                      value: object) -> None:
    home, out, _pub = exported
    done = _replay(_repacked(home, out, tmp_path, **{field: value}))
    assert done.returncode == 3, done.stderr
    assert "bad-input" in done.stderr and field in done.stderr and "internal" not in done.stderr


def test_a_huge_time_limit_is_capped_and_the_child_reaped(exported: tuple[Path, Path, Path],  # noqa: F811
                                                          tmp_path: Path) -> None:
    home, out, _pub = exported
    hostile = _repacked(home, out, tmp_path, policyTimeoutSeconds=10**18)
    started = time.monotonic()
    done = _replay(hostile)
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stderr          # the environment input changed: DIFFERENT, named
    assert "input environment" in done.stdout + done.stderr
    assert "internal" not in done.stderr
    assert _survivors(hostile) == []


def test_the_limit_is_capped_for_every_caller() -> None:
    assert policy.time_limit({"policyTimeoutSeconds": 10**18}) == policy.MAX_LIMIT
    assert policy.time_limit({"policyTimeoutSeconds": 1e300}) == policy.MAX_LIMIT
    assert policy.time_limit({"policyTimeoutSeconds": 10**400}) == policy.MAX_LIMIT
    assert policy.time_limit({"policyTimeoutSeconds": 45}) == 45.0
    assert policy.time_limit({}) == policy.DEFAULT_LIMIT
    with pytest.raises(BadGateInput, match="policyTimeoutSeconds"):
        policy.time_limit({"policyTimeoutSeconds": float("nan")})


GREEDY = rego.Module("greedy.rego", "package stella.gate\nimport rego.v1\n"
                     "big := [x | some x in numbers.range(1, 200000000)]\n"
                     "deny := [m | count(big) > 0; m := \"never\"]\n")


def test_a_policy_growing_past_the_memory_limit_is_killed_and_fails_closed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rego, "MAX_CHILD_MEMORY", 256 << 20)
    before = _children()
    started = time.monotonic()
    outcome = rego.evaluate([GREEDY], None, "{}", 120)
    assert time.monotonic() - started < 60
    assert not outcome.ok and outcome.kind == "memory" and "256 MiB" in outcome.error
    assert _children() <= before                       # no child left, not even a zombie


def _children() -> set[int]:
    """This process's children (live or zombie), from /proc: other fixtures' servers may run meanwhile,
    so the test compares before and after instead of asking waitpid whether any child exists."""
    assert Path(f"/proc/self/task/{os.getpid()}/children").exists()    # else this check would see nothing
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            found |= {int(pid) for pid in (task / "children").read_text().split()}
    return found


def _address_space(limit: int):  # type: ignore[no-untyped-def]
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_under_an_address_space_limit_replay_is_an_error_not_a_verdict(
        exported: tuple[Path, Path, Path]) -> None:  # noqa: F811
    _home, out, _pub = exported
    done = _replay(out, preexec_fn=_address_space(4 << 30))
    assert done.returncode == 4, (done.stdout, done.stderr)
    assert "engine-unavailable" in done.stderr and "ulimit -v" in done.stderr
    assert "DIFFERENT" not in done.stdout + done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["stella", "stella-bundler", "stella-verify"])
def test_every_command_starts_under_an_address_space_limit(command: str) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / command), "--help"], capture_output=True, text=True,
                          timeout=60, preexec_fn=_address_space(2 << 30))
    assert done.returncode == 0, done.stderr
    assert "snmalloc" not in done.stderr
