"""``stella serve``: the appliance's JSON API and web console (docs/service.md)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from appliance import tls as home_tls
from appliance.commands.opening import opened
from appliance.commands.options import home_option
from appliance.errors import BadListen
from appliance.home import Home
from clisupport import handle_errors
from kit.timeutil import now

if TYPE_CHECKING:
    import uvicorn


def parse_listen(text: str, tls: bool) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise BadListen(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8443")
    if not tls:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise BadListen(f"--listen {text!r}: without TLS (--tls-cert/--tls-key, or the home's tls/cert.pem) "
                            "the service listens on loopback only")
    return host, int(port)


@click.command("serve")
@click.option("--listen", default="127.0.0.1:8443", show_default=True, help="HOST:PORT to listen on.")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None,
              help="PEM certificate (HTTPS); default: the home's tls/cert.pem when there.")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None,
              help="PEM private key (HTTPS); default: the home's tls/key.pem when there.")
@click.option("--no-tls", is_flag=True, help="Plain HTTP even when the home holds a certificate (loopback only).")
@click.option("--agent-listen", default="127.0.0.1:8444", show_default=True,
              help="HOST:PORT of the agents' mutual-TLS listener (docs/agent-protocol.md); 'off' for none.")
@click.option("--agent-host", "agent_hosts", multiple=True, metavar="NAME",
              help="A further host name or IP address agents reach the agent listener by (its certificate "
                   "names the listen host and these; repeatable).")
@home_option
def serve(listen: str, tls_cert: str | None, tls_key: str | None, no_tls: bool, agent_listen: str,
          agent_hosts: tuple[str, ...], home: str | None) -> None:
    """Serve the JSON API (/api/v1) and the web console, and the agents' listener, until stopped."""
    with handle_errors("stella"):
        if (tls_cert is None) != (tls_key is None):
            raise BadListen("give both --tls-cert and --tls-key, or neither")
        if no_tls and tls_cert is not None:
            raise BadListen("--no-tls and --tls-cert/--tls-key exclude each other")
        with opened(home) as (h, _db):
            pass
        if tls_cert is None and not no_tls and (pair := home_tls.home_pair(h)) is not None:
            tls_cert, tls_key = str(pair[0]), str(pair[1])
        tls = tls_cert is not None
        host, port = parse_listen(listen, tls)
        agents = None if agent_listen == "off" else parse_listen(agent_listen, True)
        if agents is not None and agents == (host, port):
            raise BadListen(f"--agent-listen {agent_listen}: the agents need a port of their own, not --listen's")
        agent_socket = None
        if agents is not None:
            try:
                agent_socket = _bind(*agents)
            except OSError as exc:
                given = click.get_current_context().get_parameter_source("agent_listen")
                if given != click.core.ParameterSource.DEFAULT:
                    raise BadListen(f"--agent-listen {agent_listen}: {exc.strerror or exc}") from None
                # the default port busy (another appliance on this machine, a test): serve people anyway
                click.echo(f"stella serve: warning: no agent listener: {agent_listen} is in use "
                           f"({exc.strerror or exc}); give --agent-listen HOST:PORT", err=True)
                agents = None
        import uvicorn

        from appliance.web.app import create_app
        app = create_app(h, tls=tls)
        scheme = "https" if tls else "http"
        configs: list[tuple[uvicorn.Config, socket.socket | None]] = [
            (uvicorn.Config(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                            log_level="warning", access_log=False), None)]
        click.echo(f"stella serve: {scheme}://{_url_host(host)}:{port}/ (home {h.root})", err=True)
        if agents is not None:
            configs.append((_agent_config(h, agents, agent_hosts), agent_socket))
            click.echo(f"stella serve: agents at https://{_url_host(agents[0])}:{agents[1]}/agent/v1 "
                       "(mutual TLS)", err=True)
        _run(configs)


def _agent_config(h: Home, listen: tuple[str, int], extra: tuple[str, ...]) -> uvicorn.Config:
    """The agent listener: its certificate from the agent CA (made on first use), client
    certificates verified against that CA (appliance.web.agents.listen)."""
    import uvicorn

    from appliance.agents import ca, timing
    from appliance.web.agents import create_agent_app
    from appliance.web.agents.listen import PeerCertProtocol, context, hosts_for
    cert, key, authority = ca.server_pair(h, hosts_for(listen[0], extra), now())
    ctx = context(cert, key, authority)
    return uvicorn.Config(create_agent_app(h), host=listen[0], port=listen[1], http=PeerCertProtocol,
                          ssl_certfile=str(cert), ssl_keyfile=str(key), ssl_context_factory=lambda _c, _d: ctx,
                          log_level="warning", access_log=False,
                          timeout_graceful_shutdown=int(timing.interval().total_seconds()) + 2)


def _bind(host: str, port: int) -> socket.socket:
    """The agent listener's socket, bound now, so a port in use is known before anything is served."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _run(configs: list[tuple[uvicorn.Config, socket.socket | None]]) -> None:
    """Serve every config in one event loop until SIGINT/SIGTERM stops them all (each uvicorn server
    would otherwise take the signal handlers from the one before)."""
    import asyncio
    import signal

    import uvicorn

    class Quiet(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    servers = [Quiet(c) for c, _ in configs]

    def stop(*_: object) -> None:
        for s in servers:
            s.should_exit = True

    async def main() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
        results = await asyncio.gather(*(s.serve(sockets=[sock] if sock else None)
                                         for s, (_, sock) in zip(servers, configs, strict=True)),
                                       return_exceptions=True)
        stop()
        for r in results:
            if isinstance(r, BaseException):
                raise r

    asyncio.run(main())
    if any(not s.started for s in servers):
        raise SystemExit(1)             # a port in use: uvicorn logged it


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
