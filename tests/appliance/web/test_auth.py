"""Accounts over HTTP against a real ``stella serve``: login, sessions, tokens, CSRF, rate
limit, cookie flags, security headers — and the audit events they leave."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from appliance.web.security import CSP
from tests.appliance.web.conftest import PASSWORDS, Service, site_home


def audit_actions(service: Service, actor: str | None = None) -> list[tuple[str, str, dict[str, object]]]:
    conn = sqlite3.connect(service.home / "stella.db")
    try:
        rows = conn.execute("SELECT actor, action, details FROM audit_events ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [(a, act, json.loads(d)) for a, act, d in rows if actor is None or a == actor]


def test_login_returns_user_roles_csrf_and_an_httponly_strict_cookie(service: Service) -> None:
    c = service.client()
    r = c.post("/api/v1/login", json={"user": "bob", "password": PASSWORDS["bob"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == "bob" and body["roles"] == ["approver"] and len(body["csrfToken"]) >= 32
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("stella_session=")
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=strict" in flags and "secure" not in flags     # plain HTTP
    me = c.get("/api/v1/me")
    assert me.status_code == 200 and me.json() == {"user": "bob", "roles": ["approver"], "via": "session",
                                                   "csrfToken": body["csrfToken"]}
    assert ("bob", "login") in [(a, act) for a, act, _ in audit_actions(service)]


def test_wrong_password_is_401_and_audited(service: Service) -> None:
    c = service.client()
    r = c.post("/api/v1/login", json={"user": "carol", "password": "not-her-password"})
    assert r.status_code == 401
    assert r.json() == {"error": {"kind": "login-failed", "message": "wrong user name or password"}}
    assert "set-cookie" not in r.headers
    unknown = c.post("/api/v1/login", json={"user": "nobody", "password": "whatever-it-is"})
    assert unknown.status_code == 401 and unknown.json()["error"]["kind"] == "login-failed"
    failed = [(a, d) for a, act, d in audit_actions(service) if act == "login.failed"]
    assert ("carol", {"address": "127.0.0.1"}) in failed and ("nobody", {"address": "127.0.0.1"}) in failed
    assert c.get("/api/v1/me").status_code == 401


def test_failed_logins_are_rate_limited_per_user(fresh_service: Service) -> None:
    c = fresh_service.client()
    for _ in range(5):
        assert c.post("/api/v1/login", json={"user": "erin", "password": "wrong-password"}).status_code == 401
    r = c.post("/api/v1/login", json={"user": "erin", "password": PASSWORDS["erin"]})   # even the right one
    assert r.status_code == 429
    assert r.json()["error"]["kind"] == "rate-limited"
    assert ("erin", "login.refused") in [(a, act) for a, act, _ in audit_actions(fresh_service)]
    # another user from the same address is not locked out by erin's failures
    assert c.post("/api/v1/login", json={"user": "bob", "password": PASSWORDS["bob"]}).status_code == 200


def test_failed_logins_are_rate_limited_per_address(fresh_service: Service) -> None:
    c = fresh_service.client()
    for i in range(20):
        assert c.post("/api/v1/login", json={"user": f"guess{i}", "password": "wrong-password"}).status_code == 401
    r = c.post("/api/v1/login", json={"user": "bob", "password": PASSWORDS["bob"]})
    assert r.status_code == 429 and "127.0.0.1" in r.json()["error"]["message"]


def test_logout_revokes_the_session(service: Service) -> None:
    c = service.login("dave")
    cookie = c.cookies["stella_session"]
    r = c.post("/api/v1/logout")
    assert r.status_code == 200 and r.json() == {"user": "dave", "loggedOut": True}
    # the old cookie, replayed, no longer proves anyone (revoked server-side, not only cleared)
    replay = service.client(cookies={"stella_session": cookie})
    assert replay.get("/api/v1/me").status_code == 401
    assert ("dave", "logout") in [(a, act) for a, act, _ in audit_actions(service)]


def test_password_change_revokes_sessions(fresh_service: Service) -> None:
    old = fresh_service.login("alice")
    assert old.get("/api/v1/me").status_code == 200
    result = fresh_service.stella("user", "passwd", "alice", "--password-stdin", user="alice",
                                  stdin="a-brand-new-password\n")
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert old.get("/api/v1/me").status_code == 401
    assert fresh_service.client().post("/api/v1/login", json={"user": "alice", "password": PASSWORDS["alice"]}
                                       ).status_code == 401
    assert fresh_service.login("alice", "a-brand-new-password").get("/api/v1/me").status_code == 200


def test_passwd_rules(fresh_service: Service) -> None:
    other = fresh_service.stella("user", "passwd", "bob", "--password-stdin", user="alice", stdin="long-enough-pw\n")
    assert other.exit_code == 1 and "missing-role" in other.output
    short = fresh_service.stella("user", "passwd", "bob", "--password-stdin", user="admin", stdin="short\n")
    assert short.exit_code == 3 and "bad-password" in short.output
    unknown = fresh_service.stella("user", "passwd", "zed", "--password-stdin", user="admin", stdin="long-enough\n")
    assert unknown.exit_code == 2 and "unknown-user" in unknown.output
    events = [(a, act, d) for a, act, d in audit_actions(fresh_service) if act == "user.passwd"]
    assert ("admin", "user.passwd", {"user": "bob", "sessionsRevoked": 0}) in events     # from the fixture


def test_token_create_list_use_revoke(service: Service) -> None:
    created = service.stella("token", "create", "--user", "carol", "--expires", "30d", "--json", user="admin")
    assert created.exit_code == 0, created.output
    info = json.loads(created.output)
    token, ident = info["token"], info["id"]
    assert token.startswith(f"stella_{ident}_") and info["user"] == "carol" and info["state"] == "active"
    listed = service.stella("token", "list", "--json", user="admin")
    row = next(t for t in json.loads(listed.output) if t["id"] == ident)
    assert "token" not in row and row["user"] == "carol"
    # the secret is stored hashed: nowhere in the database
    assert token.split("_")[-1].encode() not in (service.home / "stella.db").read_bytes()
    bearer = service.client(headers={"Authorization": f"Bearer {token}"})
    me = bearer.get("/api/v1/me")
    assert me.status_code == 200 and me.json() == {"user": "carol", "roles": ["approver"], "via": "token"}
    used = next(t for t in json.loads(service.stella("token", "list", "--json", user="admin").output)
                if t["id"] == ident)
    assert used["lastUsed"] is not None and used["state"] == "active"
    revoked = service.stella("token", "revoke", ident, user="admin")
    assert revoked.exit_code == 0, revoked.output
    assert bearer.get("/api/v1/me").status_code == 401
    actions = [(a, act, d.get("id")) for a, act, d in audit_actions(service)]
    assert ("admin", "token.create", ident) in actions and ("admin", "token.revoke", ident) in actions
    assert ("carol", "token.refused", ident) in actions
    verified = service.stella("audit", "verify")           # the accounts' events keep the chain intact
    assert verified.exit_code == 0, verified.output


def test_token_commands_are_admin_only(service: Service) -> None:
    for args in (["create", "--user", "bob"], ["list"], ["revoke", "000000000000"]):
        result = service.stella("token", *args, user="bob")
        assert result.exit_code == 1 and "missing-role" in result.output, result.output
    unknown = service.stella("token", "revoke", "000000000000", user="admin")
    assert unknown.exit_code == 2 and "unknown-token" in unknown.output


def test_expired_and_forged_tokens_are_refused(service: Service) -> None:
    token = service.token("bob", expires="1d")
    ident = token.split("_")[1]
    ok = service.client(headers={"Authorization": f"Bearer {token}"})
    assert ok.get("/api/v1/me").status_code == 200
    conn = sqlite3.connect(service.home / "stella.db")
    with conn:
        conn.execute("UPDATE api_tokens SET expires = '2020-01-01T00:00:00Z' WHERE id = ?", [ident])
    conn.close()
    r = ok.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["error"]["kind"] == "not-authenticated"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for value in (forged, "stella_nope", "garbage"):
        assert service.client(headers={"Authorization": f"Bearer {value}"}).get("/api/v1/me").status_code == 401
    assert service.client(headers={"Authorization": f"Basic {token}"}).get("/api/v1/me").status_code == 401
    reasons = [d.get("reason") for _a, act, d in audit_actions(service) if act == "token.refused"
               and d.get("id") == ident]
    assert "expired" in reasons and "wrong secret" in reasons


def test_cookie_request_that_changes_state_needs_the_csrf_token(service: Service) -> None:
    c = service.login("admin")
    csrf = c.headers.pop("X-CSRF-Token")
    refused = c.post("/api/v1/logout")
    assert refused.status_code == 403
    assert refused.json()["error"]["kind"] == "csrf"
    wrong = c.post("/api/v1/logout", headers={"X-CSRF-Token": "not-the-token"})
    assert wrong.status_code == 403
    assert c.get("/api/v1/me").status_code == 200            # safe methods need none; still logged in
    # the no-JavaScript path: the token as a form field
    form = c.post("/api/v1/logout", data={"csrf_token": csrf})
    assert form.status_code == 200, form.text
    assert c.get("/api/v1/me").status_code == 401


def test_bearer_requests_need_no_csrf(service: Service) -> None:
    c = service.bearer("alice")
    r = c.post("/api/v1/logout")      # authenticated, no CSRF asked: refused only because it is no session
    assert r.status_code == 400 and r.json()["error"]["kind"] == "not-a-session"


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/openapi.json", "/api/v1/nowhere"])
def test_security_headers_on_every_response(service: Service, path: str) -> None:
    r = service.login("erin").get(path)
    assert r.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in r.headers


def test_malformed_login_is_refused_without_a_session(service: Service) -> None:
    c = service.client()
    for body in ({"user": "bob"}, {"user": "", "password": "x"}, ["bob"]):
        r = c.post("/api/v1/login", json=body)
        assert r.status_code == 400 and "set-cookie" not in r.headers, r.text
        assert r.json()["error"]["kind"] == "bad-request"


def test_tls_cookie_is_secure_and_hsts_is_sent(tmp_path: Path, serve: Callable[..., Service]) -> None:
    svc = serve(site_home(tmp_path / "tls", site=False), tls=True)
    assert svc.base_url.startswith("https://127.0.0.1:")
    c = svc.client()
    r = c.post("/api/v1/login", json={"user": "bob", "password": PASSWORDS["bob"]})
    assert r.status_code == 200
    flags = {f.strip().lower() for f in r.headers["set-cookie"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict"} <= flags
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert c.get("/api/v1/me").json()["user"] == "bob"
    with pytest.raises(httpx.TransportError):            # plain HTTP on the TLS port is no way in
        httpx.get(svc.base_url.replace("https", "http") + "/api/v1/me", timeout=5).raise_for_status()


def _sessions_sql(service: Service, sql: str, *args: object) -> None:
    conn = sqlite3.connect(service.home / "stella.db")
    with conn:
        conn.execute(sql, args)
    conn.close()


def test_sessions_expire_when_idle_and_after_their_absolute_lifetime(service: Service) -> None:
    idle, old = service.login("bob"), service.login("carol")
    assert idle.get("/api/v1/me").status_code == 200 and old.get("/api/v1/me").status_code == 200
    # the session id is stored hashed only: the cookie's value is nowhere in the database
    assert idle.cookies["stella_session"].encode() not in (service.home / "stella.db").read_bytes()
    _sessions_sql(service, "UPDATE sessions SET last_seen = '2020-01-01T00:00:00Z' WHERE user = 'bob'")
    _sessions_sql(service, "UPDATE sessions SET expires = '2020-01-01T00:00:00Z' WHERE user = 'carol'")
    assert idle.get("/api/v1/me").status_code == 401
    assert old.get("/api/v1/me").status_code == 401
    assert service.login("bob").get("/api/v1/me").status_code == 200       # a new login is a new session


def test_passwd_prompts_twice(fresh_service: Service) -> None:
    result = fresh_service.stella("user", "passwd", "carol", user="admin", stdin="typed-twice-pw\ntyped-twice-pw\n")
    assert result.exit_code == 0, result.output
    assert "typed-twice-pw" not in result.output                     # hidden input
    assert fresh_service.login("carol", "typed-twice-pw").get("/api/v1/me").json()["user"] == "carol"
