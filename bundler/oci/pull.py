"""Pulling images from a registry into an OCI image layout, byte for byte.

Order matters for crash safety: blobs first, then each manifest, then the index,
then the ``index.json`` entry, so anything named in the layout has its content present.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from bundler.oci import mediatypes as mt
from bundler.oci.client import RawManifest, RegistryClient, sha256_digest
from bundler.oci.config import Limits, Registries
from bundler.oci.errors import (
    LimitExceededError,
    PlatformError,
    RegistryResponseError,
    SizeMismatchError,
    UnsupportedMediaTypeError,
)
from bundler.oci.layout import IMAGE_NAME, REF_NAME, Descriptor, OCILayout
from bundler.oci.model import PlatformImage, PulledImage
from bundler.oci.platform import DEFAULT_PLATFORMS, Platform, platform_of, wanted
from bundler.oci.reference import Reference, parse_reference


def _descriptor(ref: Reference, obj: Any, where: str) -> Descriptor:
    """Validate one descriptor object from a manifest or index."""
    if not isinstance(obj, Mapping):
        raise RegistryResponseError(f"image {ref}: {where} is not a descriptor object",
                                    entry=str(ref))
    media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(media_type, str) or not isinstance(digest, str) or \
            not digest.startswith("sha256:") or len(digest) != 71:
        raise RegistryResponseError(f"image {ref}: {where} lacks a mediaType or sha256 digest",
                                    entry=str(ref))
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryResponseError(f"image {ref}: {where} has an invalid size {size!r}",
                                    entry=str(ref))
    platform = obj.get("platform") if isinstance(obj.get("platform"), Mapping) else None
    return Descriptor(media_type, digest, size,
                      {str(k): str(v) for k, v in platform.items()
                       if isinstance(v, str)} if platform else None)


def _check_layer(ref: Reference, layer: Descriptor, limits: Limits) -> None:
    if layer.media_type not in mt.LAYERS:
        raise UnsupportedMediaTypeError(f"image {ref}: layer {layer.digest} has unsupported "
                                        f"media type {layer.media_type!r}", entry=layer.digest)
    if layer.media_type in mt.LAYERS_ZSTD and not limits.allow_zstd:
        raise UnsupportedMediaTypeError(f"image {ref}: layer {layer.digest} is zstd-compressed; "
                                        "Docker 20.10 cannot pull it", entry=layer.digest)
    if layer.size > limits.max_blob_bytes:
        raise LimitExceededError(f"image {ref}: layer {layer.digest} declares {layer.size} "
                                 f"bytes, limit {limits.max_blob_bytes}", entry=layer.digest)


class LayerTap(Protocol):
    """Sees a layer's bytes as they arrive (e.g. to scan them while they download).

    The bytes are not verified yet: ``finish`` is called only after the blob's size and
    digest were checked and it was stored, ``abort`` if anything failed. A tap must never
    slow the download down (it may give up instead) nor raise.
    """

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


class Puller:
    """Pulls references into one layout, sharing blobs between images.

    *tap_layer(descriptor)* may return a :class:`LayerTap` for a layer about to be
    downloaded (layers already in the layout are not downloaded, so not tapped).
    """

    def __init__(self, client: RegistryClient, layout: OCILayout,
                 platforms: Sequence[Platform] = DEFAULT_PLATFORMS,
                 tap_layer: Callable[[Descriptor], LayerTap | None] | None = None) -> None:
        self.client = client
        self.layout = layout
        self.platforms = tuple(platforms)
        self.limits = client.limits
        self.tap_layer = tap_layer

    def pull(self, reference: str | Reference, *, ref_name: str | None = None) -> PulledImage:
        """Pull one reference; ``ref_name`` names it in index.json (default: the reference)."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        top = self.client.get_manifest(ref)
        if mt.is_index(top.media_type):
            manifests, layout_desc, filtered = self._pull_index(ref, top)
        else:
            image = self._pull_manifest(ref, top, expected=None)
            if image.platform is not None and not wanted(image.platform, self.platforms):
                raise PlatformError(f"image {ref}: the image is {image.platform}, not one of "
                                    f"{', '.join(map(str, self.platforms))}", entry=str(ref))
            manifests, filtered = (image,), False
            layout_desc = Descriptor(top.media_type, top.digest, top.size)
        name = ref_name or str(ref)
        annotations = ((IMAGE_NAME, str(ref.with_digest(layout_desc.digest))), (REF_NAME, name))
        layout_desc = Descriptor(layout_desc.media_type, layout_desc.digest, layout_desc.size,
                                 None, annotations)
        self.layout.add_ref(layout_desc)
        return PulledImage(str(reference), ref.registry, ref.repository, ref.tag, top.digest,
                           top.media_type, layout_desc, filtered, manifests)

    def _pull_index(self, ref: Reference, top: RawManifest
                    ) -> tuple[tuple[PlatformImage, ...], Descriptor, bool]:
        doc = top.json()
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise RegistryResponseError(f"image {ref}: index has no manifests list",
                                        entry=str(ref))
        if len(entries) > self.limits.max_index_entries:
            raise LimitExceededError(f"image {ref}: index lists {len(entries)} manifests, limit "
                                     f"{self.limits.max_index_entries}", entry=str(ref))
        descs = [_descriptor(ref, e, f"index entry {i}") for i, e in enumerate(entries)]
        keep = [i for i, d in enumerate(descs) if wanted(platform_of(d.platform), self.platforms)]
        if not keep:
            have = sorted({str(platform_of(d.platform)) for d in descs})
            raise PlatformError(f"image {ref}: no manifest for {', '.join(map(str, self.platforms))}"
                                f" (index has {', '.join(have)})", entry=str(ref))
        images = tuple(self._pull_child(ref, descs[i]) for i in keep)
        if len(keep) == len(descs):
            self.layout.write_bytes(top.digest, top.raw, what=f"image {ref}")
            return images, Descriptor(top.media_type, top.digest, top.size), False
        # Keep every other field of the original index; only the manifests list shrinks.
        kept = dict(doc, manifests=[entries[i] for i in keep])
        raw = json.dumps(kept, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
        digest = sha256_digest(raw)
        self.layout.write_bytes(digest, raw, what=f"image {ref} (filtered index)")
        return images, Descriptor(top.media_type, digest, len(raw)), True

    def _pull_child(self, ref: Reference, desc: Descriptor) -> PlatformImage:
        if not mt.is_manifest(desc.media_type):
            raise UnsupportedMediaTypeError(f"image {ref}: index entry {desc.digest} has "
                                            f"unsupported media type {desc.media_type!r}",
                                            entry=desc.digest)
        if desc.size > self.limits.max_manifest_bytes:
            raise LimitExceededError(f"image {ref}: manifest {desc.digest} declares {desc.size} "
                                     "bytes", entry=desc.digest)
        child = self.client.get_manifest(ref, desc.digest)
        if child.size != desc.size:
            raise SizeMismatchError(f"image {ref}: manifest {desc.digest} has {child.size} bytes,"
                                    f" the index says {desc.size}", entry=desc.digest)
        if not mt.is_manifest(child.media_type):
            raise UnsupportedMediaTypeError(f"image {ref}: nested index {desc.digest} is not "
                                            "supported", entry=desc.digest)
        return self._pull_manifest(ref, child, expected=platform_of(desc.platform))

    def _pull_manifest(self, ref: Reference, man: RawManifest,
                       expected: Platform | None) -> PlatformImage:
        doc = man.json()
        config = _descriptor(ref, doc.get("config"), "config descriptor")
        layers_raw = doc.get("layers")
        if not isinstance(layers_raw, list):
            raise RegistryResponseError(f"image {ref}: manifest {man.digest} has no layers list",
                                        entry=man.digest)
        if len(layers_raw) > self.limits.max_layers:
            raise LimitExceededError(f"image {ref}: {len(layers_raw)} layers, limit "
                                     f"{self.limits.max_layers}", entry=man.digest)
        layers = tuple(_descriptor(ref, l, f"layer {i}") for i, l in enumerate(layers_raw))
        for layer in layers:
            _check_layer(ref, layer, self.limits)
        total = config.size + sum(layer.size for layer in layers)
        if total > self.limits.max_image_bytes:
            raise LimitExceededError(f"image {ref}: {total} bytes of blobs, limit "
                                     f"{self.limits.max_image_bytes}", entry=man.digest)
        platform, created = self._fetch_config(ref, config)
        for layer in layers:
            self._fetch_blob(ref, layer, tapped=True)
        self.layout.write_bytes(man.digest, man.raw, what=f"image {ref}")
        return PlatformImage(man.digest, man.media_type, man.size, platform or expected, config, layers,
                             created)

    def _fetch_config(self, ref: Reference, config: Descriptor) -> tuple[Platform | None, str | None]:
        """The config's platform and its ``created`` string, each None when it has none."""
        if config.size > self.limits.max_config_bytes:
            raise LimitExceededError(f"image {ref}: config {config.digest} declares "
                                     f"{config.size} bytes, limit {self.limits.max_config_bytes}",
                                     entry=config.digest)
        self._fetch_blob(ref, config)
        try:
            data = json.loads(self.layout.read_blob(config.digest))
        except ValueError:
            return None, None  # artifacts may carry non-JSON configs; the platform is then unknown
        if not isinstance(data, dict):
            return None, None
        created = data.get("created")
        return platform_of(data), created if isinstance(created, str) else None

    def _fetch_blob(self, ref: Reference, desc: Descriptor, tapped: bool = False) -> None:
        if self.layout.has_blob(desc.digest, desc.size):
            return
        tap = self.tap_layer(desc) if tapped and self.tap_layer is not None else None
        try:
            with self.client.open_blob(ref, desc.digest) as chunks:
                self.layout.write_stream(desc.digest, desc.size, chunks if tap is None else _teed(chunks, tap),
                                         what=f"image {ref}")
        except BaseException:
            if tap is not None:
                tap.abort()
            raise
        if tap is not None:
            tap.finish()


def _teed(chunks: Iterable[bytes], tap: LayerTap) -> Iterator[bytes]:
    for chunk in chunks:
        tap.feed(chunk)
        yield chunk


def pull_images(references: Iterable[str], layout_dir: Path, *,
                registries: Registries | None = None, limits: Limits | None = None,
                platforms: Sequence[Platform] = DEFAULT_PLATFORMS) -> list[PulledImage]:
    """Pull every reference into the OCI layout at *layout_dir* (created if missing).

    Blobs shared between images are fetched once. Raises the first ``OCIError``.
    """
    layout = OCILayout(layout_dir)
    with RegistryClient(registries, limits) as client:
        puller = Puller(client, layout, platforms)
        return [puller.pull(ref) for ref in references]
