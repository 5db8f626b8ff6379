"""The agent protocol's messages (kit/agentproto) and their JSON Schemas (docs/schemas/agent-*.schema.json):
the schemas say what the dataclasses enforce, and both refuse the same hostile messages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kit.agentproto import MAX_BODY, MESSAGES, BadMessage, Message, RegisterRequest, TaskResult
from kit.agentproto.fields import Field
from kit.errors import UnknownVersion

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sta_0123456789ab_" + "x" * 43
LEASE = {"leaseId": "lease-0001", "idempotencyKey": "deploy-prod-0001"}
SAMPLES: dict[str, dict[str, Any]] = {
    "register-request": {"protocol": 1, "token": TOKEN, "name": "web-3", "csr": "-----BEGIN…",
                         "capabilities": ["compose", "docker"]},
    "register-answer": {"protocol": 1, "name": "web-3", "certificate": "PEM", "caCertificate": "PEM",
                        "applianceId": "sha256:" + "ab" * 32},
    "heartbeat": {"protocol": 1, "name": "web-3", "sent": "2026-12-02T12:00:00Z", "running": ["lease-0001"]},
    "task-lease": {"protocol": 1, **LEASE, "type": "deploy", "expires": "2026-12-02T12:05:00Z",
                   "payload": {"lock": "sha256:" + "cd" * 32}},
    "task-result": {"protocol": 1, **LEASE, "status": "succeeded", "detail": "3 services healthy",
                    "facts": {"services": 3}},
    "renew-request": {"protocol": 1, "name": "web-3", "csr": "-----BEGIN…"},
    "renew-answer": {"protocol": 1, "name": "web-3", "certificate": "PEM"},
}


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "docs" / "schemas" / f"agent-{name}.schema.json").read_text())
    return loaded


def expected_property(f: Field) -> dict[str, Any]:
    """What the schema must say of a field, from the dataclass's table."""
    if f.kind == "integer":
        return {"const": f.minimum} if f.minimum == f.maximum else {
            "type": "integer", "minimum": f.minimum, "maximum": f.maximum}
    string = {"type": "string", "maxLength": f.max_length, **({"pattern": f.pattern} if f.pattern else {})}
    if f.kind == "string":
        return string
    if f.kind == "strings":
        return {"type": "array", "maxItems": f.max_items, "uniqueItems": True, "items": string}
    return {"type": "object"}


def test_every_message_has_a_schema_and_no_schema_is_stray() -> None:
    files = {p.name for p in (ROOT / "docs" / "schemas").glob("agent-*.schema.json")}
    assert files == {f"agent-{name}.schema.json" for name in MESSAGES}
    assert set(SAMPLES) == set(MESSAGES)


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_schema_matches_the_dataclass(name: str) -> None:
    cls, doc = MESSAGES[name], schema(name)
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["additionalProperties"] is False
    assert doc["required"] == [f.key for f in cls.FIELDS if f.required]
    assert list(doc["properties"]) == [f.key for f in cls.FIELDS]
    for f in cls.FIELDS:
        found = {k: v for k, v in doc["properties"][f.key].items() if k != "description"}
        assert found == expected_property(f), f.key


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_a_valid_message_round_trips_and_validates(name: str) -> None:
    cls, sample = MESSAGES[name], SAMPLES[name]
    jsonschema.validate(sample, schema(name))
    message = cls.from_dict(sample)
    assert message.to_dict() == sample
    assert cls.from_json(message.to_json()) == message
    assert message.to_json() == json.dumps(sample, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hostile(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(what is wrong, the message) for each field of *name*, and for the message as a whole."""
    cls, sample = MESSAGES[name], SAMPLES[name]
    cases: list[tuple[str, dict[str, Any]]] = [("unknown field", {**sample, "extra": 1})]
    for f in cls.FIELDS:
        if f.required:
            cases.append((f"{f.key} missing", {k: v for k, v in sample.items() if k != f.key}))
        cases.append((f"{f.key} null", {**sample, f.key: None}))
        cases.append((f"{f.key} a bool", {**sample, f.key: True}))
        if f.kind == "string":
            cases.append((f"{f.key} too long", {**sample, f.key: "a" * (f.max_length + 1)}))
            if f.pattern:
                cases.append((f"{f.key} off pattern", {**sample, f.key: "A B\n"}))
        if f.kind == "strings":
            cases.append((f"{f.key} too many", {**sample, f.key: [f"a{i}" for i in range(f.max_items + 1)]}))
            cases.append((f"{f.key} repeated", {**sample, f.key: ["aa", "aa"]}))
            cases.append((f"{f.key} item not a string", {**sample, f.key: [1]}))
    return cases


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_hostile_messages_are_refused_by_both(name: str) -> None:
    cls = MESSAGES[name]
    for what, data in _hostile(name):
        with pytest.raises(BadMessage):
            cls.from_dict(data)
        assert not jsonschema.Draft202012Validator(schema(name)).is_valid(data), what


def test_another_protocol_version_is_named() -> None:
    with pytest.raises(UnknownVersion, match="protocol 2; this side speaks 1"):
        RegisterRequest.from_dict({**SAMPLES["register-request"], "protocol": 2})


@pytest.mark.parametrize("raw, needle", [
    (b"", "not JSON"), (b"\xff{}", "not JSON"), (b'{"protocol":1,"protocol":1}', "repeated member"),
    (b'{"x":NaN}', "NaN is not JSON"), (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (b" " * (MAX_BODY + 1), "at most"), (b'{"protocol":' + b"9" * 5000 + b"}", "not JSON"),
])
def test_bytes_that_are_not_a_message(raw: bytes, needle: str) -> None:
    with pytest.raises(BadMessage, match=needle):
        RegisterRequest.from_json(raw)


def test_an_oversized_object_member_is_refused() -> None:
    big = {**SAMPLES["task-result"], "facts": {"x": "y" * (128 * 1024)}}
    with pytest.raises(BadMessage, match=r"task result\.facts: .* bytes, at most 131072"):
        TaskResult.from_dict(big)


def test_a_side_cannot_build_what_the_other_would_refuse() -> None:
    with pytest.raises(BadMessage, match=r"register\.name"):
        RegisterRequest(1, TOKEN, "Web_3", "pem", ())
    assert isinstance(TaskResult.from_dict(SAMPLES["task-result"]), Message)


GOOD_PAYLOADS: dict[str, dict[str, Any]] = {
    "inspect": {"project": "shop"}, "drift": {"project": "shop"},
    "health": {"port": 8080, "path": "/health", "host": "127.0.0.1", "timeout": 5},
    "sticker-read": {"project": "shop"}, "sticker-write": {"project": "shop", "sticker": "{}"},
    "deploy": {"project": "shop", "lock": "services: {}\n", "registry": "10.0.0.5:5000", "envFile": "prod.env"},
    "rollback": {"project": "shop", "lock": "services: {}\n"},
    "remove": {"project": "shop", "timeout": 60},
}


def test_every_task_type_has_a_payload_table() -> None:
    from kit.agentproto.messages import TASK_TYPES
    from kit.agentproto.tasks import PAYLOADS, check_payload
    assert set(GOOD_PAYLOADS) == set(PAYLOADS) == set(TASK_TYPES)
    for kind, payload in GOOD_PAYLOADS.items():
        assert check_payload(kind, payload) == payload


@pytest.mark.parametrize(("kind", "payload", "needle"), [
    ("reboot", {}, "is not one of"),
    ("inspect", {}, "missing member 'project'"),
    ("inspect", {"project": "shop", "command": "rm -rf /"}, "unknown member 'command'"),
    ("inspect", {"project": "../etc"}, "does not match"),
    ("inspect", {"project": 7}, "must be a string"),
    ("health", {"port": 0}, "an integer from 1 to 65535"),
    ("health", {"port": True}, "an integer from 1 to 65535"),
    ("health", {"port": 80, "path": "no-slash"}, "does not match"),
    ("health", {"port": 80, "path": "/a b"}, "does not match"),
    ("deploy", {"project": "shop", "lock": "x" * (96 * 1024 + 1)}, "over 98304 bytes"),
    ("deploy", {"project": "shop", "lock": "", "envFile": "$(id)"}, "does not match"),
    ("sticker-write", {"project": "shop", "sticker": "x" * (64 * 1024 + 1)}, "over 65536 bytes"),
])
def test_a_payload_its_type_does_not_take_is_bad_message(kind: str, payload: dict[str, Any], needle: str) -> None:
    from kit.agentproto.tasks import check_payload
    with pytest.raises(BadMessage, match=re.escape(needle)):
        check_payload(kind, payload)
