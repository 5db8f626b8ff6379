"""A release's compose template made deployable as a Swarm stack (``docker stack deploy``). Pure.

What changes, and why (docs/deploy.md "Swarm targets"):

- ``network_mode: host`` becomes the ``host`` network (``networks: {hostnet: {external:
  true, name: host}}``): stack files have no network_mode; any other network_mode is refused.
- every service gets ``deploy.update_config`` and ``deploy.rollback_config`` with
  ``monitor`` set explicitly (Swarm's default is 5 s, the Compose spec says 0): the
  service's healthcheck ``start_period + interval x retries`` (at least 1 s, 5 s without a
  healthcheck), never more than the environment's health timeout; ``failure_action: pause``
  (Swarm's own rollback is per service; the appliance rolls the whole stack back by
  redeploying the previous lock file, so a failed update must stop where it is); ``order``
  and ``parallelism`` as the template says, else ``stop-first`` and 1 (a task on the host
  network cannot start beside its predecessor: both would bind the same ports).

The lock file rendered from the result has no top-level ``name`` (stack files refuse it; the
stack's name is the target's project).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from kit.deploy.lockfile import LockError, parse_template

HOST_NETWORK = "hostnet"
FAILURE_ACTION = "pause"
DEFAULT_MONITOR = 5
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: Any, where: str) -> float:
    """A Compose duration (``1m30s``, ``500ms``, or a number of seconds) in seconds.

    Raises:
        LockError: not a duration.
    """
    if isinstance(value, bool):
        raise LockError(f"{where}: {value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise LockError(f"{where}: {value!r} is not a duration (e.g. 30s, 1m30s, 500ms)")
    return sum(float(n) * _UNIT[u] for n, u in parts)


def monitor_seconds(service: dict[str, Any], name: str, health_timeout: int) -> int:
    """How long Swarm watches each updated task for failure: long enough for the healthcheck
    to fail (``start_period + interval x retries``), capped by the environment's health timeout."""
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable") or check.get("test") in (["NONE"], "NONE"):
        wanted = float(DEFAULT_MONITOR)
    else:
        where = f"service {name}: healthcheck"
        interval = seconds(check.get("interval", "30s"), f"{where}.interval")
        start = seconds(check.get("start_period", 0), f"{where}.start_period")
        retries = check.get("retries", 3)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 1:
            raise LockError(f"{where}.retries must be a positive integer")
        wanted = start + interval * retries
    return max(1, min(health_timeout, math.ceil(wanted)))


def _service(name: str, body: dict[str, Any], health_timeout: int) -> dict[str, Any]:
    out = dict(body)
    mode = out.pop("network_mode", None)
    if mode is not None:
        if mode != "host":
            raise LockError(f"service {name}: network_mode {mode!r} cannot be deployed as a Swarm stack "
                            "(only host, which becomes the host network; use networks:)")
        if out.get("networks"):
            raise LockError(f"service {name}: network_mode host and networks together")
        out["networks"] = [HOST_NETWORK]
    deploy = out.get("deploy") or {}
    if not isinstance(deploy, dict):
        raise LockError(f"service {name}: deploy must be a mapping")
    monitor = f"{monitor_seconds(out, name, health_timeout)}s"
    deploy = dict(deploy)
    for key in ("update_config", "rollback_config"):
        given = deploy.get(key) or {}
        if not isinstance(given, dict):
            raise LockError(f"service {name}: deploy.{key} must be a mapping")
        deploy[key] = {"parallelism": 1, "delay": "0s", "order": "stop-first", **given,
                       "monitor": monitor, "failure_action": FAILURE_ACTION}
    out["deploy"] = deploy
    return out


def stack_template(template: bytes | str, health_timeout: int) -> bytes:
    """The template with the changes above (YAML; ``render_lock`` pins its images next).

    Raises:
        LockError: a malformed template, a network_mode other than host, a bad duration.
    """
    doc = parse_template(template)
    services = {}
    for name, body in doc["services"].items():
        if not isinstance(body, dict):
            raise LockError(f"service {name}: must be a mapping")
        services[name] = _service(str(name), body, health_timeout)
    out = {**doc, "services": services}
    if any(HOST_NETWORK in (s.get("networks") or []) for s in services.values()):
        networks = dict(out.get("networks") or {})
        networks[HOST_NETWORK] = {"external": True, "name": "host"}
        out["networks"] = networks
    return yaml.safe_dump(out, sort_keys=True, default_flow_style=False, allow_unicode=True).encode("utf-8")
