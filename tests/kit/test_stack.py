"""kit.deploy.stack: a compose template made a Swarm stack file (pure; the Swarm test runs the result)."""

from __future__ import annotations

import pytest
import yaml

from kit.deploy.lockfile import LockError, LockIdentity, PinnedImage, check_lock, render_lock
from kit.deploy.stack import monitor_seconds, seconds, stack_template

DIGEST = "sha256:" + "a" * 64
CHECK = {"test": ["CMD", "true"], "interval": "2s", "retries": 3, "start_period": "1m"}


def test_durations_as_compose_writes_them() -> None:
    assert seconds("1m30s", "x") == 90 and seconds("500ms", "x") == 0.5 and seconds(7, "x") == 7
    for bad in ("ten seconds", "5", "1s x", True):
        with pytest.raises(LockError, match="not a duration"):
            seconds(bad, "service web: healthcheck.interval")


def test_monitor_covers_the_healthcheck_and_stays_within_the_health_timeout() -> None:
    assert monitor_seconds({"healthcheck": CHECK}, "web", 600) == 66       # start_period + interval x retries
    assert monitor_seconds({"healthcheck": CHECK}, "web", 20) == 20        # the environment's timeout caps it
    assert monitor_seconds({}, "web", 600) == 5                            # no healthcheck: Swarm's usual 5 s
    assert monitor_seconds({"healthcheck": {"test": ["CMD", "true"], "interval": "100ms", "retries": 1}},
                           "web", 600) == 1                                # never 0 (the Compose spec's default)


def test_the_stack_file_has_update_and_rollback_config_and_the_host_network() -> None:
    template = yaml.safe_dump({"services": {
        "web": {"image": "x", "network_mode": "host", "healthcheck": CHECK,
                "deploy": {"replicas": 3, "update_config": {"order": "start-first", "failure_action": "continue"}}},
        "api": {"image": "y"}}})
    doc = yaml.safe_load(stack_template(template, 120))
    web = doc["services"]["web"]
    assert "network_mode" not in web and web["networks"] == ["hostnet"]
    assert doc["networks"] == {"hostnet": {"external": True, "name": "host"}}
    # the template's order is kept; monitor and failure_action are always the appliance's
    assert web["deploy"]["update_config"] == {"parallelism": 1, "delay": "0s", "order": "start-first",
                                              "monitor": "66s", "failure_action": "pause"}
    assert web["deploy"]["rollback_config"]["order"] == "stop-first" and web["deploy"]["replicas"] == 3
    assert doc["services"]["api"]["deploy"]["update_config"]["monitor"] == "5s"
    who = LockIdentity("shop@1", "dev", "D-1", "sw", "shop")
    pins = {n: PinnedImage(f"10.77.0.254:5000/shop/{n}@{DIGEST}", DIGEST) for n in ("web", "api")}
    lock = render_lock(stack_template(template, 120), pins, who, stack=True)
    parsed = check_lock(lock)                # the self-digest holds without the name
    assert "name" not in parsed and parsed["version"] == "3.8"     # docker CLI 20.10 needs a version
    assert parsed["services"]["web"]["image"].endswith(DIGEST)


def test_what_a_stack_cannot_run_is_refused_by_name() -> None:
    with pytest.raises(LockError, match="service web: network_mode 'bridge' cannot be deployed as a Swarm stack"):
        stack_template(yaml.safe_dump({"services": {"web": {"network_mode": "bridge"}}}), 60)
    with pytest.raises(LockError, match="network_mode host and networks together"):
        stack_template(yaml.safe_dump({"services": {"web": {"network_mode": "host", "networks": ["a"]}}}), 60)
    with pytest.raises(LockError, match="retries must be a positive integer"):
        stack_template(yaml.safe_dump({"services": {"web": {"healthcheck": {**CHECK, "retries": 0}}}}), 60)
