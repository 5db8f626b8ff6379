"""Blue-green on real parts: the test dockerd, the appliance registry, and a real nginx on
127.0.0.1 (unprivileged foreground process, its own prefix) whose upstream file the
appliance rewrites and reloads. What a user checks: what the proxy answers, which
containers run, and what the evidence packet says."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance import users
from appliance.deploy import bluegreen, bluegreen_back, records, targets
from appliance.deploy.errors import BlueGreenNotSetUp
from appliance.deploy.outcome import Report, deploy_lock
from appliance.deploy.targets import Target
from appliance.home import Home
from appliance.store.db import open_db
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port

pytestmark = pytest.mark.services


def app(*, healthy: bool = True) -> dict[str, object]:
    """busybox httpd on the colour's port (``${STELLA_PORT}``, set by the appliance per colour);
    *healthy* False: its healthcheck asks a port nobody listens on."""
    check = "${STELLA_PORT}" if healthy else str(free_port())
    return {"network_mode": "host", "restart": "no", "stop_signal": "SIGKILL",
            "command": ["/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -p 127.0.0.1:${STELLA_PORT} -h /www"],
            "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
                                     f"http://127.0.0.1:{check}/"],
                            "interval": "1s", "timeout": "1s", "retries": 2, "start_period": "0s"}}


@dataclass
class Proxy:
    """nginx as an unprivileged foreground process: one listen port per target."""

    prefix: Path
    conf: Path
    proc: subprocess.Popen[bytes]
    ports: dict[str, int]          # target → the port users call
    upstreams: dict[str, Path]     # target → the file the appliance rewrites

    def reload_command(self) -> str:
        return f"nginx -p {self.prefix} -c {self.conf} -e {self.prefix}/error.log -s reload"

    def get(self, target: str) -> str:
        """The body the proxy answers for *target* (or the error)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[target]}/", timeout=5) as resp:
                return str(resp.read().decode().strip())
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except OSError as exc:
            return f"error {exc}"


def _nginx_conf(prefix: Path, ports: dict[str, int], upstreams: dict[str, Path]) -> str:
    temp = " ".join(f"{k}_temp_path {prefix}/tmp/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    servers = "".join(f"  upstream {name} {{ include {upstreams[name]}; }}\n"
                      f"  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://{name}; }} }}\n"
                      for name, port in ports.items())
    return (f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{\n  access_log off;\n  {temp}\n{servers}}}\n")


@pytest.fixture()
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    if not shutil.which("nginx"):
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed (build.sh installs it)")
        pytest.skip("nginx is not installed")
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    ports = {"dev-1": free_port(), "dev-2": free_port()}
    upstreams = {}
    for name in ports:
        upstreams[name] = prefix / f"{name}.upstream"
        upstreams[name].write_text("server 127.0.0.1:1;\n")      # nothing deployed yet: 502
    conf = prefix / "nginx.conf"
    conf.write_text(_nginx_conf(prefix, ports, upstreams))
    proc = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(conf), "-e", f"{prefix}/error.log",
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p = Proxy(prefix, conf, proc, ports, upstreams)
    try:
        deadline = time.monotonic() + 10
        while p.get("dev-1") != "HTTP 502":
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "nginx exited"
            assert time.monotonic() < deadline, p.get("dev-1")
            time.sleep(0.05)
        yield p
    finally:
        proc.terminate()
        proc.wait(10)


def _target(site: Site, proxy: Proxy, name: str) -> tuple[str, dict[str, int]]:
    """A blue-green target: its env file names two ports, the upstream file and the reload."""
    colours = {"blue": free_port(), "green": free_port()}
    env_file = site.tmp / f"{name}.env"
    env_file.write_text(f"# blue-green set-up of {name}\nSTELLA_BLUE_PORT={colours['blue']}\n"
                        f"STELLA_GREEN_PORT={colours['green']}\nSTELLA_UPSTREAM_FILE={proxy.upstreams[name]}\n"
                        f"STELLA_PROXY_RELOAD={proxy.reload_command()}\nSTELLA_DRAIN_SECONDS=0.5\n")
    project = site.target(name, "dev", "--env-file", str(env_file))
    site.projects += [f"{project}-blue", f"{project}-green"]
    return project, colours


def _deploy(site: Site, ref: str, probe: bluegreen.Probe | None = None) -> Report:
    promotion = site.promote(ref)
    db = open_db(Home(site.home).db_path)
    try:
        return bluegreen.deploy(Home(site.home), db, promotion, users.get(db, "dave"), probe=probe)
    finally:
        db.close()


def _running(site: Site, project: str) -> list[str]:
    client = site.client()
    try:
        return sorted(c.name for c in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={project}"}))
    finally:
        client.close()


def _packet_event(site: Site, report: Report) -> dict[str, object]:
    data = (Home(site.home).blobs / report.packet).read_bytes()
    event: dict[str, object] = json.loads(base64.b64decode(json.loads(data)["payload"]))["event"]
    return event


class Watcher:
    """Asks the proxy every 20 ms in a thread; keeps each change of answer."""

    def __init__(self, proxy: Proxy, target: str) -> None:
        self.answers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(proxy, target), daemon=True)
        self._thread.start()

    def _run(self, proxy: Proxy, target: str) -> None:
        while not self._stop.is_set():
            body = proxy.get(target)
            if not self.answers or self.answers[-1] != body:
                self.answers.append(body)
            time.sleep(0.02)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(10)
        return self.answers


def test_blue_green_switches_through_a_real_nginx(site: Site, proxy: Proxy) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": app()}, {"web": "shop web 2"}),
                  Rel("shop", "3.0.0", {"web": app(healthy=False)}, {"web": "shop web 3"})])
    project, ports = _target(site, proxy, "dev-1")

    first = _deploy(site, "shop@1.0.0")
    assert first.ok, first.message
    assert _settles(proxy, "dev-1", "shop web 1")
    assert first.targets[0]["colour"] == "blue" and first.targets[0]["project"] == f"{project}-blue"
    assert first.targets[0]["port"] == ports["blue"] and first.targets[0]["previousColour"] is None
    assert _running(site, f"{project}-blue") and not _running(site, f"{project}-green")
    assert "blue" in proxy.upstreams["dev-1"].read_text()

    # v2: green starts beside blue; the probe runs after the switch, while blue still runs
    seen_by_probe: list[tuple[str, str, list[str]]] = []

    def probe(t: Target) -> str | None:
        seen_by_probe.append((t.project, proxy.upstreams["dev-1"].read_text(), _running(site, f"{project}-blue")))
        return None

    watch = Watcher(proxy, "dev-1")
    second = _deploy(site, "shop@2.0.0", probe)
    answers = watch.stop()
    assert second.ok, second.message
    # v1, then v2; a reload lets old and new nginx workers answer side by side for a moment
    # (both colours run then), and no request ever failed, before or after the old colour left
    assert answers[0] == "shop web 1" and answers[-1] == "shop web 2", answers
    assert set(answers) == {"shop web 1", "shop web 2"}, answers
    assert {proxy.get("dev-1") for _ in range(20)} == {"shop web 2"}
    assert seen_by_probe[0][0] == f"{project}-green" and f":{ports['green']};" in seen_by_probe[0][1]
    assert seen_by_probe[0][2], "the old colour still runs while the probe judges the switched target"
    assert not _running(site, f"{project}-blue"), "the old colour is retired"
    assert _running(site, f"{project}-green")
    t = second.targets[0]
    assert (t["colour"], t["previousColour"], t["retired"]["ok"]) == ("green", "blue", True)  # type: ignore[index]
    assert t["switchedAt"] and t["switch"]["ok"]                                              # type: ignore[index]
    event = _packet_event(site, second)
    assert second.packet_type == "deployment"
    assert event["targets"][0]["colour"] == "green"                                           # type: ignore[index]
    assert event["targets"][0]["project"] == f"{project}-green"                               # type: ignore[index]
    sticker = json.loads(base64.b64decode(event["targets"][0]["sticker"]["payload"]))      # type: ignore[index]
    assert sticker["deployment"]["project"] == f"{project}-green"

    # v3 never gets healthy: blue is removed, green (v2) stays live, users saw nothing
    watch = Watcher(proxy, "dev-1")
    third = _deploy(site, "shop@3.0.0")
    answers = watch.stop()
    assert not third.ok and "unhealthy" in third.message, third.message
    assert answers == ["shop web 2"], answers
    assert not _running(site, f"{project}-blue"), "no new-colour container is left"
    assert _running(site, f"{project}-green")
    assert third.packet_type == "rollback"
    target = _packet_event(site, third)["targets"][0]                                         # type: ignore[index]
    assert (target["colour"], target["project"]) == ("blue", f"{project}-blue")
    assert target["rollback"]["action"] == "removed" and target["rollback"]["ok"]
    assert "nothing changed for users" in target["rollback"]["note"]
    assert target["switchedAt"] is None
    pub, packet = site.tmp / "appliance.pub.json", site.tmp / "rollback.stella-evidence"
    assert site.run("key", "export", "--out", str(pub)).exit_code == 0   # type: ignore[attr-defined]
    packet.write_bytes((Home(site.home).blobs / third.packet).read_bytes())
    from click.testing import CliRunner

    from verifier.cli import cli as verify
    res = CliRunner().invoke(verify, ["evidence", str(packet), "--appliance-key", str(pub)])
    assert res.exit_code == 0, res.output

    # what is live is what the appliance says: whereis and drift name green
    where = json.loads(site.run("whereis", "--json").output)        # type: ignore[attr-defined]
    assert (where[0]["release"], where[0]["colour"], where[0]["project"]) == ("shop@2.0.0", "green",
                                                                               f"{project}-green")
    assert f"live colour green ({project}-green)" in site.run("whereis").output   # type: ignore[attr-defined]
    r = site.run("drift", "dev-1")
    assert r.exit_code == 0, r.output                                # type: ignore[attr-defined]
    shown = json.loads(site.run("target", "show", "dev-1", "--json").output)   # type: ignore[attr-defined]
    assert (shown["release"], shown["liveColour"], shown["liveProject"]) == ("shop@2.0.0", "green", f"{project}-green")
    assert shown["blueGreen"]["ports"] == ports
    text = site.run("target", "show", "dev-1").output                 # type: ignore[attr-defined]
    assert f"live colour: green (project {project}-green, port {ports['green']})" in text, text


def test_a_failed_target_switches_every_switched_target_back(site: Site, proxy: Proxy) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": app()}, {"web": "shop web 2"})])
    p1, _ = _target(site, proxy, "dev-1")
    p2, _ = _target(site, proxy, "dev-2")
    first = _deploy(site, "shop@1.0.0")
    assert first.ok, first.message
    assert _settles(proxy, "dev-1", "shop web 1") and _settles(proxy, "dev-2", "shop web 1")

    def probe(t: Target) -> str | None:     # the smoke test fails on the second target only
        return "smoke test: checkout answered 500" if t.name == "dev-2" else None

    answers = Watcher(proxy, "dev-1")
    second = _deploy(site, "shop@2.0.0", probe)
    assert not second.ok and "smoke test" in second.message, second.message
    # switched back before the new colours went (after the drain): never an error in between
    assert set(answers.stop()) <= {"shop web 1", "shop web 2"}, answers.answers
    assert _settles(proxy, "dev-1", "shop web 1") and _settles(proxy, "dev-2", "shop web 1")
    for project in (p1, p2):
        assert _running(site, f"{project}-blue") and not _running(site, f"{project}-green")
    backs = {t["target"]: t["rollback"] for t in second.targets}
    assert backs["dev-1"]["action"] == backs["dev-2"]["action"] == "switched-back"
    assert backs["dev-1"]["switchedBack"] and backs["dev-1"]["ok"]
    assert "blue" in proxy.upstreams["dev-1"].read_text() and "blue" in proxy.upstreams["dev-2"].read_text()


def test_a_target_without_the_set_up_is_refused_before_anything_changes(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"})])
    project = site.target("dev-1")
    promotion = site.promote("shop@1.0.0")
    db = open_db(Home(site.home).db_path)
    try:
        with pytest.raises(BlueGreenNotSetUp, match="no env file"):
            bluegreen.deploy(Home(site.home), db, promotion, users.get(db, "dave"))
        state = db.execute("SELECT state FROM promotions WHERE id = ?", [promotion]).fetchone()[0]
    finally:
        db.close()
    assert state == "approved" and not _running(site, f"{project}-blue")



def _killed_at(site: Site, point: str, ref: str) -> str:
    """A blue-green deploy of *ref* in its own process, killed (SIGKILL) at *point*."""
    promotion = site.promote(ref)
    code = ("import sys; from appliance import users; from appliance.deploy import bluegreen; "
            "from pathlib import Path; from appliance.home import Home; from appliance.store.db import open_db; "
            "h = Home(Path(sys.argv[1])); db = open_db(h.db_path); "
            "bluegreen.deploy(h, db, sys.argv[2], users.get(db, 'dave'))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3]), "STELLA_TEST_PAUSE_AT": point}
    proc = subprocess.Popen([sys.executable, "-c", code, str(site.home), promotion], env=env, text=True,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline, line, seen = time.monotonic() + 120, "", []
        while "stella-test-pause" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
        assert point in line, "".join(seen)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    return promotion


def _settles(proxy: Proxy, target: str, body: str) -> bool:
    """The proxy answers *body* 10 times in a row within 10 s (a reload's old workers finish)."""
    deadline, run = time.monotonic() + 10, 0
    while run < 10 and time.monotonic() < deadline:
        run = run + 1 if proxy.get(target) == body else 0
        time.sleep(0.02)
    return run >= 10


def _state(site: Site, promotion: str) -> str:
    return str(json.loads(site.run("promotion", "show", promotion, "--json").stdout)  # type: ignore[attr-defined]
               ["promotion"]["state"])


def test_killed_after_the_switch_is_switched_back_by_resume(site: Site, proxy: Proxy) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": app()}, {"web": "shop web 2"})])
    project, _ = _target(site, proxy, "dev-1")
    assert _deploy(site, "shop@1.0.0").ok
    promotion = _killed_at(site, "bluegreen-after-switch", "shop@2.0.0")
    assert _state(site, promotion) == "deploying"
    assert _settles(proxy, "dev-1", "shop web 2"), "the dead process had switched"
    r = site.run("deploy", "--resume", "--json", user="dave")
    assert r.exit_code == 0, r.output                                # type: ignore[attr-defined]
    assert _state(site, promotion) == "failed"
    assert _settles(proxy, "dev-1", "shop web 1")
    assert _running(site, f"{project}-blue") and not _running(site, f"{project}-green")
    shown = json.loads(site.run("target", "show", "dev-1", "--json").output)   # type: ignore[attr-defined]
    assert (shown["release"], shown["liveColour"]) == ("shop@1.0.0", "blue")
    assert site.run("drift", "dev-1").exit_code == 0                 # type: ignore[attr-defined]


def test_killed_while_retiring_is_finished_by_resume(site: Site, proxy: Proxy) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": app()}, {"web": "shop web 2"})])
    project, _ = _target(site, proxy, "dev-1")
    assert _deploy(site, "shop@1.0.0").ok
    promotion = _killed_at(site, "bluegreen-committed", "shop@2.0.0")
    assert _state(site, promotion) == "deploying"
    r = site.run("deploy", "--resume", user="dave")
    assert r.exit_code == 0, r.output                                # type: ignore[attr-defined]
    assert _state(site, promotion) == "deployed"
    assert _settles(proxy, "dev-1", "shop web 2")
    assert not _running(site, f"{project}-blue") and _running(site, f"{project}-green")
    assert site.run("drift", "dev-1").exit_code == 0                 # type: ignore[attr-defined]


def test_a_rollback_step_brings_the_previous_colour_back(site: Site, proxy: Proxy) -> None:
    """What the workflow's rollback step does on a blue-green target (bluegreen_back.restore):
    the earlier release starts in the colour not live, the proxy switches, the live colour goes."""
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": app()}, {"web": "shop web 2"})])
    project, _ = _target(site, proxy, "dev-1")
    assert _deploy(site, "shop@1.0.0").ok
    second = _deploy(site, "shop@2.0.0")
    assert second.ok and _settles(proxy, "dev-1", "shop web 2")
    home = Home(site.home)
    db = open_db(home.db_path)
    try:
        t = targets.get(db, "dev-1")
        previous = records.current(db, "dev-1", exclude=second.deployment)
        watch = Watcher(proxy, "dev-1")
        with deploy_lock(home):
            back = bluegreen_back.restore(home, db, t, previous, 20)
        answers = watch.stop()
        assert back["ok"] and back["action"] == "reapplied", back
        assert (back["release"], back["colour"], back["project"]) == ("shop@1.0.0", "blue", f"{project}-blue")
        # the step marks the deployment rolled back: the target's record names blue again
        db.execute("UPDATE target_rollouts SET state = 'rolled-back' WHERE deployment_id = ?", [second.deployment])
        db.conn.commit()
    finally:
        db.close()
    assert answers[0] == "shop web 2" and set(answers) == {"shop web 1", "shop web 2"}, answers
    assert _settles(proxy, "dev-1", "shop web 1")
    assert _running(site, f"{project}-blue") and not _running(site, f"{project}-green")
    shown = json.loads(site.run("target", "show", "dev-1", "--json").output)   # type: ignore[attr-defined]
    assert (shown["release"], shown["liveColour"]) == ("shop@1.0.0", "blue")
    assert site.run("drift", "dev-1").exit_code == 0                 # type: ignore[attr-defined]


def test_the_workflow_deploy_step_deploys_blue_green(site: Site, proxy: Proxy) -> None:
    """The way a user gets blue-green: the environment's workflow says so; stella deploy and
    stella rollback go through it (the step's health probe asks the proxy after the switch)."""
    site.import_([Rel("shop", "1.0.0", {"web": app()}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": app()}, {"web": "shop web 2"})])
    project, _ = _target(site, proxy, "dev-1")
    template = site.tmp / "dev.workflow.yaml"
    template.write_text(
        "schema: stella/workflow/v1\nname: dev-blue-green\nsteps:\n"
        "  - {id: gates, uses: gate}\n  - {id: approval, uses: approval, needs: [gates]}\n"
        "  - id: deploy\n    uses: deploy\n    needs: [approval]\n    with:\n      strategy: blue-green\n"
        f"      health: {{probe: http, port: {proxy.ports['dev-1']}, path: /, interval: 1s, deadline: 20s}}\n")
    r = site.run("workflow", "set", "dev", str(template), user="root")
    assert r.exit_code == 0, r.output                                # type: ignore[attr-defined]
    for ref, colour, body in (("shop@1.0.0", "blue", "shop web 1"), ("shop@2.0.0", "green", "shop web 2")):
        r = site.run("deploy", site.promote(ref), "--json", user="dave")
        assert r.exit_code == 0, r.output                            # type: ignore[attr-defined]
        assert _settles(proxy, "dev-1", body)
        assert json.loads(site.run("target", "show", "dev-1", "--json").output)["liveColour"] == colour  # type: ignore[attr-defined]
    r = site.run("rollback", "dev", user="dave")
    assert r.exit_code == 0, r.output                                # type: ignore[attr-defined]
    assert _settles(proxy, "dev-1", "shop web 1")
    assert _running(site, f"{project}-blue") and not _running(site, f"{project}-green")
