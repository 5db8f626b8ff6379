"""``stella serve``: the appliance's JSON API and web console (docs/service.md)."""

from __future__ import annotations

import ipaddress

import click

from appliance import tls as home_tls
from appliance.commands.opening import opened
from appliance.commands.options import home_option
from appliance.errors import BadListen
from clisupport import handle_errors


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
@home_option
def serve(listen: str, tls_cert: str | None, tls_key: str | None, no_tls: bool, home: str | None) -> None:
    """Serve the JSON API (/api/v1) and the web console until stopped."""
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
        import uvicorn

        from appliance.web.app import create_app
        app = create_app(h, tls=tls)
        scheme = "https" if tls else "http"
        click.echo(f"stella serve: {scheme}://{_url_host(host)}:{port}/ (home {h.root})", err=True)
        uvicorn.run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_level="warning",
                    access_log=False)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
