"""The blue-green set-up read from a target's env file, and the upstream file's switch (no engine)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from appliance.deploy import traffic
from appliance.deploy.errors import BlueGreenNotSetUp
from appliance.deploy.targets import Target
from appliance.home import Home


def _target(tmp_path: Path, text: str | None) -> Target:
    env_file = None
    if text is not None:
        env_file = tmp_path / "t.env"
        env_file.write_text(text)
    return Target("web-1", "prod", "unix:///nowhere.sock", "shop", str(env_file) if env_file else None)


def _good(tmp_path: Path) -> str:
    return (f"STELLA_BLUE_PORT=18081\nexport STELLA_GREEN_PORT='18082'\nSTELLA_UPSTREAM_FILE={tmp_path}/up\n"
            f"STELLA_PROXY_RELOAD={sys.executable} -c 'pass'\nDB_URL=postgres://db\nSTELLA_PORT=1\n")


def test_the_set_up_is_read_from_the_env_file(tmp_path: Path) -> None:
    sw = traffic.switch_for(_target(tmp_path, _good(tmp_path)))
    assert sw.ports == {"blue": 18081, "green": 18082} and sw.upstream_file == tmp_path / "up"
    assert sw.reload == (sys.executable, "-c", "pass") and sw.drain_seconds == 2.0
    assert sw.upstream_host == "127.0.0.1"


@pytest.mark.parametrize(("text", "words"), [
    (None, "has no env file"),
    ("STELLA_GREEN_PORT=2\n", "STELLA_BLUE_PORT must be a port number"),
    ("STELLA_BLUE_PORT=70000\nSTELLA_GREEN_PORT=2\n", "not '70000'"),
    ("STELLA_BLUE_PORT=2\nSTELLA_GREEN_PORT=2\n", "two different ports"),
    ("STELLA_BLUE_PORT=1\nSTELLA_GREEN_PORT=2\nSTELLA_UPSTREAM_FILE=up\n", "absolute path"),
    ("STELLA_BLUE_PORT=1\nSTELLA_GREEN_PORT=2\nSTELLA_UPSTREAM_FILE=/no/such/dir/up\n", "does not exist"),
    ("STELLA_BLUE_PORT=1\nSTELLA_GREEN_PORT=2\nSTELLA_UPSTREAM_FILE={tmp}/up\n", "STELLA_PROXY_RELOAD must"),
    ("STELLA_BLUE_PORT=1\nSTELLA_GREEN_PORT=2\nSTELLA_UPSTREAM_FILE={tmp}/up\nSTELLA_PROXY_RELOAD=x 'y\n",
     "cannot be split"),
    ("STELLA_BLUE_PORT=1\nSTELLA_GREEN_PORT=2\nSTELLA_UPSTREAM_FILE={tmp}/up\nSTELLA_PROXY_RELOAD=x\n"
     "STELLA_DRAIN_SECONDS=soon\n", "0-3600 seconds"),
])
def test_an_incomplete_set_up_is_refused_naming_the_key(tmp_path: Path, text: str | None, words: str) -> None:
    t = _target(tmp_path, text.replace("{tmp}", str(tmp_path)) if text else None)
    with pytest.raises(BlueGreenNotSetUp, match=words) as info:
        traffic.switch_for(t)
    assert info.value.kind == "blue-green-not-set-up" and info.value.exit_code == 3


def test_the_appliance_environment_may_not_set_the_colour_port(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLA_PORT", "9")
    with pytest.raises(BlueGreenNotSetUp, match="own environment sets STELLA_PORT"):
        traffic.switch_for(_target(tmp_path, _good(tmp_path)))


def test_the_colour_env_file_keeps_the_target_lines_and_sets_its_own(tmp_path: Path) -> None:
    t = _target(tmp_path, _good(tmp_path))
    path = traffic.colour_env_file(Home(tmp_path / "home"), t, "green", traffic.switch_for(t))
    values = traffic.read_env_file(path)
    assert values["DB_URL"] == "postgres://db" and values["STELLA_PORT"] == "18082"
    assert values["STELLA_COLOUR"] == "green" and path.read_text().count("STELLA_PORT=") == 1


def test_switch_and_switch_back_restore_the_exact_bytes(tmp_path: Path) -> None:
    sw = traffic.switch_for(_target(tmp_path, _good(tmp_path)))
    assert traffic.current_bytes(sw) is None
    facts = traffic.put(sw, traffic.upstream_text(sw, "blue", "note"))
    assert facts["ok"] and sw.upstream_file.read_text().endswith("server 127.0.0.1:18081;\n")
    assert traffic.put(sw, None)["ok"] and not sw.upstream_file.exists()
    assert not list(tmp_path.glob(".up.*.tmp"))


def test_a_failing_reload_is_a_failed_switch(tmp_path: Path) -> None:
    text = _good(tmp_path).replace("-c 'pass'", "-c 'import sys; sys.exit(\"proxy config broken\")'")
    sw = traffic.switch_for(_target(tmp_path, text))
    facts = traffic.put(sw, traffic.upstream_text(sw, "green", "note"))
    assert not facts["ok"] and "exited 1: proxy config broken" in facts["error"]
    missing = traffic.Switch(sw.ports, sw.upstream_file, ("/no/such/reload",))
    assert "could not run" in traffic.put(missing, b"x")["error"]


def test_other_colour() -> None:
    assert (traffic.other(None), traffic.other("blue"), traffic.other("green")) == ("blue", "green", "blue")


@pytest.mark.parametrize("kind", ["swarm", "agents"])
def test_blue_green_is_refused_on_a_swarm_or_agent_target(tmp_path: Path, kind: str) -> None:
    env = tmp_path / "bg.env"
    env.write_text("STELLA_BLUE_PORT=18001\nSTELLA_GREEN_PORT=18002\nSTELLA_UPSTREAM_FILE=/tmp/up.conf\n"
                   "STELLA_PROXY_RELOAD=true\n")
    target = Target("web-1", "prod", "unix:///nowhere.sock", "shop", str(env), kind=kind)
    with pytest.raises(BlueGreenNotSetUp, match=f"target web-1 is a {kind} target: blue-green"):
        traffic.switch_for(target)
