"""``stella registry serve | seed | config``: the local OCI registry Docker hosts pull from."""

from __future__ import annotations

import click

from appliance import audit, lock
from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from appliance.home import actor
from appliance.registry import config as registry_config
from appliance.registry.seed import seed_all
from appliance.registry.serve import exec_foreground
from appliance.store.blobs import BlobStore
from appliance.store.db import transaction
from clisupport import Seconds, emit_json, handle_errors


@click.group("registry")
def registry() -> None:
    """The local registry (Debian docker-registry), seeded from the content store."""


@registry.command("serve")
@home_option
def serve(home: str | None) -> None:
    """Run docker-registry in the foreground on the configured address (systemd runs this)."""
    with handle_errors("stella registry serve"), opened(home) as (h, _db):
        settings = registry_config.load(h)
        click.echo(f"stella registry serve: listening on {settings.addr}, storage {h.registry / 'storage'}", err=True)
    exec_foreground(h, settings)


@registry.command("seed")
@home_option
@click.option("--addr", help="Registry address (default: the configured one).")
@click.option("--kit", "kit_id", help="Only the images of this kit id.")
@click.option("--wait", type=Seconds(), default=30.0, show_default=True, help="Seconds to wait for a running import.")
@json_option
def seed(home: str | None, addr: str | None, kit_id: str | None, wait: float, as_json: bool) -> None:
    """Push every imported image to the registry (idempotent; resumes after an interruption)."""
    with handle_errors("stella registry seed"), opened(home) as (h, db):
        target = addr or registry_config.load(h).addr
        with lock.exclusive(h.lock_path, wait, "an import"):
            report = seed_all(db, target, BlobStore(h.blobs), kit_id)
        with transaction(db):
            audit.append(db, actor(), "registry.seed", {"registry": target, **report.to_dict()})
        if as_json:
            emit_json(report.to_dict())
            return
        click.echo(f"seeded {target}: {report.images} images, {report.manifests_pushed} manifests and "
                   f"{report.blobs_pushed} blobs pushed, {report.blobs_present} blobs already there")
        for line in report.skipped:
            click.echo(f"  skipped: {line}")


@registry.command("config")
@home_option
@click.option("--addr", help="Set the listen address (host:port).")
@click.option("--autoseed/--no-autoseed", default=None, help="Seed after each import.")
@json_option
def config(home: str | None, addr: str | None, autoseed: bool | None, as_json: bool) -> None:
    """Show or change the registry settings."""
    with handle_errors("stella registry config"), opened(home) as (h, db):
        current = registry_config.load(h)
        if addr is not None or autoseed is not None:
            current = registry_config.RegistrySettings(addr or current.addr,
                                                       current.autoseed if autoseed is None else autoseed)
            with transaction(db):
                audit.append(db, actor(), "registry.config", current.to_dict())
                registry_config.save(h, current)
        if as_json:
            emit_json(current.to_dict())
        else:
            click.echo(f"addr {current.addr}; autoseed {'on' if current.autoseed else 'off'}")
