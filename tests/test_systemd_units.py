"""The systemd units in systemd/: valid for systemd (``systemd-analyze verify``) and hardened.

``systemd-analyze`` comes from Debian's systemd package (build.sh installs it). verify needs each
ExecStart binary to exist, so it checks copies of the units whose ``/usr/bin/stella`` points at this
environment's ``stella``; everything else is verified exactly as shipped. verify reports unknown or
malformed directives as warnings with exit status 0, so any output at all fails the test.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))
HOME = "/var/lib/stella"
AGENT = "stella-agent.service"      # runs on an estate's hosts: its own user, state directory and binary


def home_of(unit: Path) -> str:
    return "/var/lib/stella-agent" if unit.name == AGENT else HOME


def user_of(unit: Path) -> str:
    return "stella-agent" if unit.name == AGENT else "stella"

# Every unit: no privileges, a read-only system with the home (or a folder of it) writable, no kernel access.
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "UMask": "0077",
    "User": "stella",
    "Group": "stella",
}
# systemd-analyze security's exposure score (0 = locked down, 10 = unprotected); 5.6 before hardening.
MAX_EXPOSURE = 2.0


def directives(unit: Path) -> dict[str, list[str]]:
    """``Key`` -> every value it is given in the [Service] section (continuation lines joined)."""
    out: dict[str, list[str]] = {}
    section = ""
    text = unit.read_text().replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(" ".join(value.split()))
    return out


@pytest.fixture(scope="module")
def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        if IN_CI:
            pytest.fail("systemd-analyze is not installed, and CI=true requires it (./build.sh setup installs systemd)")
        pytest.skip("systemd-analyze is not installed (./build.sh setup installs Debian's systemd)")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copies of the units with /usr/bin/stella replaced by this environment's stella."""
    stella = Path(sys.executable).parent / "stella"
    assert stella.is_file(), f"{stella} is missing (pip install -e .)"
    folder = tmp_path_factory.mktemp("units")
    for unit in UNITS:
        (folder / unit.name).write_text(unit.read_text().replace("/usr/bin/stella ", f"{stella} ")
                                        .replace("/usr/bin/stella-agent ", f"{stella}-agent "))
    return folder


def test_units_exist() -> None:
    assert {u.name for u in UNITS} >= {"stella.service", "stella-registry.service", "stella-registry-seed.service",
                                       AGENT}


def test_systemd_analyze_verify_accepts_every_unit(analyze: str, installed: Path) -> None:
    units = [str(installed / u.name) for u in UNITS]
    proc = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, cwd=installed)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout + proc.stderr == "", "systemd-analyze verify warned:\n" + proc.stdout + proc.stderr


def test_verify_would_catch_a_bad_directive(analyze: str, tmp_path: Path) -> None:
    """The check above means something: a misspelt or malformed directive is reported."""
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nProtectSystem=maybe\nNoNewPrivilege=yes\n")
    proc = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert "protect system value" in proc.stderr and "Unknown key 'NoNewPrivilege'" in proc.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_unit_is_hardened(unit: Path) -> None:
    d = directives(unit)
    for key, want in {**HARDENING, "User": user_of(unit), "Group": user_of(unit)}.items():
        assert d.get(key) == [want], f"{unit.name}: {key}={want} expected, found {d.get(key)}"
    # writable: the home, or a folder inside it, and nothing else
    rw, home = d.get("ReadWritePaths", []), home_of(unit)
    assert len(rw) == 1 and all(p == home or p.startswith(home + "/") for p in rw[0].split()), rw
    assert d.get("RestrictAddressFamilies") == ["AF_INET AF_INET6 AF_UNIX"]
    assert d.get("SystemCallFilter") == ["@system-service", "~@privileged"]
    if d.get("Type") != ["oneshot"]:
        assert d.get("Restart") == ["on-failure"], f"{unit.name}: a long-running unit restarts on failure"


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_docker_socket_group_only_for_the_unit_that_deploys(unit: Path) -> None:
    groups = directives(unit).get("SupplementaryGroups", [])
    if unit.name in ("stella.service", AGENT):
        assert groups == ["docker"], "the service (local targets) and the agent deploy through /run/docker.sock"
    else:
        assert groups == [], f"{unit.name} never talks to Docker"


def test_the_service_runs_stella_serve_over_tls_from_the_home() -> None:
    d = directives(ROOT / "systemd" / "stella.service")
    (cmd,) = d["ExecStart"]
    assert cmd.startswith("/usr/bin/stella serve --home /var/lib/stella --listen 0.0.0.0:8443 ")
    assert f"--tls-cert {HOME}/tls/cert.pem --tls-key {HOME}/tls/key.pem" in cmd


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_exposure_score_is_low(analyze: str, installed: Path, unit: Path) -> None:
    """``systemd-analyze security --offline`` rates each unit's sandbox; every unit stays "OK" or better."""
    proc = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(installed / unit.name)],
                          capture_output=True, text=True, cwd=installed)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "Overall exposure level" in x)
    score = float(line.split(":")[1].split()[0])
    assert score <= MAX_EXPOSURE, line


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_exec_start_is_a_stella_command_line_the_cli_accepts(unit: Path) -> None:
    """The unit and the CLI agree: every option the unit passes exists (parsed by click, not run)."""
    import click

    from agent.cli import cli as agent_cli
    from appliance.cli import cli
    (cmd,) = directives(unit)["ExecStart"]
    argv = shlex.split(cmd)
    assert argv[0] == ("/usr/bin/stella-agent" if unit.name == AGENT else "/usr/bin/stella")
    group: click.Command = agent_cli if unit.name == AGENT else cli
    args = argv[1:]
    while isinstance(group, click.Group):
        sub = group.get_command(click.Context(group), args[0])
        assert sub is not None, f"{unit.name}: no command {args[0]!r}"
        group, args = sub, args[1:]
    group.make_context(group.name, list(args))  # raises on an unknown option or a bad value
