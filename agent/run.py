"""``stella-agent run``: poll (the heartbeat), run the leased task, post its result; again.

One task at a time, on a worker thread, while the main loop keeps heartbeating (naming the
lease, which extends it). Transport errors back off 1 s, 2 s, 4 s … up to a minute; a
refusal of the certificate (revoked, replaced) ends the run with that error, since no retry
can succeed. SIGTERM/SIGINT: an idle agent exits at once (0); a busy one finishes its task,
posts the result and exits; a second signal exits at once. The certificate is renewed
(``POST /agent/v1/renew``, a new key) when less than a third of its lifetime is left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import docker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent import engine, state
from agent.channel import Channel
from kit.agentproto import PROTOCOL, BadMessage, Heartbeat, TaskLease, TaskResult
from kit.agentproto.errors import CertificateRefused
from kit.agentproto.messages import RenewRequest
from kit.agentproto.tasks import check_payload
from kit.errors import BadUsage, KitIOError, KitVerificationError, StellaError, cut
from kit.timeutil import format_time, now

MAX_BACKOFF = 60.0


class Stopping(BaseException):
    """Raised by the signal handler to cut an idle long poll short."""


@dataclass
class Busy:
    lease: TaskLease
    thread: threading.Thread
    outcome: engine.Outcome | None = None


def run_task(lease: TaskLease, docker_url: str, state_dir: Path, stopping: threading.Event) -> engine.Outcome:
    """The task's outcome; any failure of the engine or of the payload is a ``failed`` outcome."""
    try:
        payload = check_payload(lease.type, lease.payload)
        if lease.type == "health":
            return engine.health(payload)
        c = docker.DockerClient(base_url=docker_url, timeout=60)
        try:
            if lease.type in ("inspect", "drift"):
                return engine.inspect(c, payload)
            if lease.type == "sticker-read":
                return engine.read_sticker(c, payload)
            if lease.type == "sticker-write":
                return engine.write_sticker(c, payload)
            if lease.type == "remove":
                return engine.remove(c, docker_url, state_dir, payload)
            return engine.deploy(c, docker_url, state_dir, payload, stopping.is_set)
        finally:
            c.close()
    except BadMessage as exc:
        return engine.Outcome("failed", f"refused the task: {exc.message}")
    except engine.TRANSPORT as exc:
        return engine.Outcome("failed", f"the Docker engine at {docker_url}: {engine._short(exc)}")


def check_url(url: str) -> str:
    if not url.startswith("https://"):
        raise BadUsage(f"--appliance {cut(url, 80)!r}: the agent listener speaks https only (mutual TLS); "
                       "give https://HOST:PORT (stella serve --agent-listen)")
    return url.rstrip("/")


def renew_due(cert: x509.Certificate, moment: dt.datetime) -> bool:
    """Less than a third of the certificate's lifetime left."""
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - moment < life / 3


def renew(channel: Channel, state_dir: Path, name: str) -> x509.Certificate:
    """A new key and certificate, checked (names us, certifies the new key, the pinned CA signed it),
    written next to the old and renamed into place: key first, then certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256()))
    answer = channel.renew(RenewRequest(PROTOCOL, name, csr.public_bytes(serialization.Encoding.PEM).decode()))
    ca = x509.load_pem_x509_certificate(state.read_file(state_dir, "ca.pem"))
    try:
        cert = x509.load_pem_x509_certificate(answer.certificate.encode())
        cert.verify_directly_issued_by(ca)
    except Exception as exc:  # noqa: BLE001 - not PEM, another CA, a bad signature: one refusal
        raise KitVerificationError(f"renew answer: the certificate is refused ({type(exc).__name__})") from None
    if cert.public_key() != key.public_key() or answer.name != name:
        raise KitVerificationError("renew answer: the certificate is not for this agent's new key")
    for filename, data, mode in (
            ("key.pem", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()), 0o600),
            ("cert.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644)):
        draft = state_dir / f".{filename}.new"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fsync(f.fileno())
        os.replace(draft, state_dir / filename)
    registration = state.load(state_dir)
    doc = {**registration.to_dict(), "certificateExpires": format_time(cert.not_valid_after_utc)}
    draft = state_dir / ".registration.json.new"
    draft.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(draft, state_dir / "registration.json")
    return cert


class Agent:
    """The run loop over one state directory (see the module docstring)."""

    def __init__(self, state_dir: Path, url: str | None, docker_url: str, interval: float,
                 log: object = sys.stderr) -> None:
        self.state_dir = state_dir
        self.registration = state.load(state_dir)
        self.url = check_url(url or self.registration.appliance)
        self.docker_url = docker_url
        self.interval = interval
        self.stop = threading.Event()
        self.busy: Busy | None = None
        self._log = log

    def say(self, text: str) -> None:
        print(f"stella-agent: {text}", file=self._log, flush=True)  # type: ignore[call-overload]

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop.is_set() or self.busy is None:
            self.stop.set()
            raise Stopping()
        self.stop.set()
        self.say(f"signal {signum}: finishing lease {self.busy.lease.lease_id} first")

    def _channel(self) -> Channel:
        return Channel(self.url, self.state_dir, timeout=self.interval + 30)

    def _cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(state.read_file(self.state_dir, "cert.pem"))

    def run(self) -> None:
        """Until stopped; raises CertificateRefused when the appliance refuses the certificate."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        name = self.registration.name
        fingerprint = hashlib.sha256(self._cert().public_bytes(serialization.Encoding.DER)).hexdigest()
        self.say(f"{name} polling {self.url} (certificate sha256:{fingerprint[:16]}…, engine {self.docker_url})")
        backoff = 0.0
        channel = self._channel()
        try:
            while True:
                if self.busy is not None and not self.busy.thread.is_alive():
                    self._post(channel)
                if self.stop.is_set() and self.busy is None:
                    break
                try:
                    if self.busy is None and renew_due(self._cert(), now()):
                        cert = renew(channel, self.state_dir, name)
                        channel.close()
                        channel = self._channel()
                        self.say(f"certificate renewed, valid until {format_time(cert.not_valid_after_utc)}")
                    running = (self.busy.lease.lease_id,) if self.busy else ()
                    lease = channel.poll(Heartbeat(PROTOCOL, name, format_time(now()), running))
                    backoff = 0.0
                except CertificateRefused:
                    raise
                except KitIOError as exc:
                    backoff = min(MAX_BACKOFF, backoff * 2 or 1.0)
                    self.say(f"{exc.message}; again in {backoff:g}s")
                    self.stop.wait(backoff)
                    continue
                except StellaError as exc:      # a malformed answer, a refused message: ours or theirs, log it
                    backoff = min(MAX_BACKOFF, backoff * 2 or 1.0)
                    self.say(f"{exc.kind}: {exc.message}; again in {backoff:g}s")
                    self.stop.wait(backoff)
                    continue
                if lease is not None and self.busy is None:
                    self._start(lease)
                if self.busy is not None:
                    self.busy.thread.join(self.interval)
        except Stopping:
            pass
        finally:
            channel.close()
        self.say("stopped")

    def _start(self, lease: TaskLease) -> None:
        self.say(f"lease {lease.lease_id}: {lease.type} {cut(json.dumps(lease.payload, sort_keys=True), 100)}")

        def work() -> None:
            assert self.busy is not None
            self.busy.outcome = run_task(lease, self.docker_url, self.state_dir, self.stop)

        self.busy = Busy(lease, threading.Thread(target=work, name=f"task-{lease.lease_id}", daemon=True))
        self.busy.thread.start()

    def _post(self, channel: Channel) -> None:
        """Post the finished task's result; retried on transport errors until it is taken or refused."""
        assert self.busy is not None
        lease, outcome = self.busy.lease, self.busy.outcome
        outcome = outcome or engine.Outcome("failed", "the task stopped without an outcome")
        facts = outcome.facts
        if facts is not None and len(json.dumps(facts).encode()) > 120 * 1024:
            facts = {"truncated": True}
        result = TaskResult(PROTOCOL, lease.lease_id, lease.idempotency_key, outcome.status,
                            cut(outcome.detail, 4000), facts)
        backoff = 1.0
        while True:
            try:
                channel.result(result)
                self.say(f"lease {lease.lease_id}: {outcome.status}: {cut(outcome.detail, 200)}")
                break
            except KitIOError as exc:
                self.say(f"{exc.message}; posting the result again in {backoff:g}s")
                if self.stop.wait(backoff) and self.stop.is_set() and backoff >= MAX_BACKOFF:
                    break
                backoff = min(MAX_BACKOFF, backoff * 2)
            except StellaError as exc:          # lease-refused: expired meanwhile; the appliance has reported it
                self.say(f"lease {lease.lease_id}: result refused: {exc.kind}: {exc.message}")
                break
        self.busy = None
