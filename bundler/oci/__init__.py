"""OCI registry client: pull images byte-exact into an OCI image layout, and push them back.

Public API (see docs/oci.md)::

    pull_images(refs, layout_dir, registries=..., limits=..., platforms=...) -> list[PulledImage]
    Puller(RegistryClient(registries, limits), OCILayout(dir), platforms).pull(ref)
    push_ref(client, layout_dir, ref_name, target) / push_image(client, layout_dir, digest, media_type, target)
"""

from __future__ import annotations

from bundler.oci.client import RawManifest, RegistryClient
from bundler.oci.config import Limits, Registries, RegistryConfig, registries_from_dict
from bundler.oci.credentials import Credentials
from bundler.oci.errors import OCIError
from bundler.oci.layout import Descriptor, OCILayout
from bundler.oci.model import PlatformImage, PulledImage
from bundler.oci.platform import DEFAULT_PLATFORMS, Platform, parse_platform
from bundler.oci.pull import Puller, pull_images
from bundler.oci.push import push_image, push_ref
from bundler.oci.reference import Reference, parse_reference

__all__ = [
    "DEFAULT_PLATFORMS", "Credentials", "Descriptor", "Limits", "OCIError", "OCILayout",
    "Platform", "PlatformImage", "PulledImage", "Puller", "RawManifest", "Reference",
    "Registries", "RegistryClient", "RegistryConfig", "parse_platform", "parse_reference",
    "pull_images", "push_image", "push_ref", "registries_from_dict",
]
