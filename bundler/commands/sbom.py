"""``stella-bundler sbom REF``: pull one image and print (or write) its SBOM."""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from bundler.contenttime import image_time
from bundler.oci import Limits, Registries, RegistryConfig, parse_platform, parse_reference
from bundler.oci.pull import pull_images
from bundler.sbom import SBOMCache, catalog_pulled, to_cyclonedx, to_spdx, to_spdx3
from clisupport import handle_errors
from kit.errors import KitIOError
from kit.registryhost import plain_http_by_default


def parse_created(text: str | None) -> datetime:
    """ISO 8601 or Unix seconds; default ``$SOURCE_DATE_EPOCH``, else now (UTC, seconds)."""
    value = text or os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not ISO 8601 or Unix seconds",
                                 param_hint="--created") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _render(reference: str, fmt: str, spec_version: str, platform: str, insecure: bool,
            created: datetime, cache_dir: str | None, image_dated: bool = False) -> bytes:
    """The SBOM of *reference*, dated *created*, or with *image_dated* the image's own time
    (its config's ``created``; *created* when unusable), as in a kit (docs/sbom.md#time)."""
    ref = parse_reference(reference)
    if insecure and not plain_http_by_default(ref.registry):
        raise click.UsageError("--insecure is only allowed for loopback registries")
    entries = {ref.registry: RegistryConfig(ref.registry, insecure=True)} if insecure else {}
    cache = SBOMCache(Path(cache_dir)) if cache_dir else None
    with tempfile.TemporaryDirectory(prefix="stella-sbom-") as tmp:
        pulled = pull_images([reference], Path(tmp), registries=Registries(entries),
                             limits=Limits(), platforms=[parse_platform(platform)])[0]
        catalog = catalog_pulled(Path(tmp), pulled, cache=cache)[0]
    if image_dated:
        created = image_time(pulled.manifests[0].created, created)
    if fmt == "spdx":
        return to_spdx(catalog, created)
    if fmt == "spdx3":
        return to_spdx3(catalog, created)
    return to_cyclonedx(catalog, created, spec_version)


@click.command("sbom")
@click.argument("reference")
@click.option("--format", "fmt", type=click.Choice(["cyclonedx", "spdx", "spdx3"]), default="cyclonedx",
              show_default=True, help="SBOM format: CycloneDX, SPDX 2.3 (spdx) or SPDX 3.0.1 JSON-LD (spdx3).")
@click.option("--spec-version", type=click.Choice(["1.7", "1.6"]), default="1.7",
              show_default=True, help="CycloneDX spec version.")
@click.option("--platform", default="linux/amd64", show_default=True,
              help="Platform to catalog when the image is multi-arch (os/arch[/variant]).")
@click.option("--insecure", is_flag=True,
              help="Plain HTTP only, no HTTPS try (loopback registries only; they fall back to it anyway).")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.option("--created", help="Document timestamp: ISO 8601 or Unix seconds (default the image's "
                                "own creation time, else $SOURCE_DATE_EPOCH, else now).")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="Reuse catalogs by image digest from this directory.")
def sbom(reference: str, fmt: str, spec_version: str, platform: str, insecure: bool,
         out: str | None, created: str | None, cache_dir: str | None) -> None:
    """Pull REFERENCE (HOST/REPO:TAG or @sha256:…) and write its SBOM."""
    when = parse_created(created)
    with handle_errors("stella-bundler"):
        data = _render(reference, fmt, spec_version, platform, insecure, when, cache_dir, image_dated=not created)
        if out:
            _write(Path(out), data + b"\n")
        else:
            click.echo(data.decode("utf-8"))


def _write(out: Path, data: bytes) -> None:
    """Write beside *out* and rename: a failed write leaves nothing under either name."""
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise KitIOError(f"cannot write {out}: {exc.strerror or exc}", entry=str(out)) from None
