"""OCI and Docker schema-2 media types, and what kind of object each one names."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")

MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEXES = frozenset({OCI_INDEX, DOCKER_LIST})
CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYERS_GZIP = frozenset({OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, OCI_LAYER_NONDIST_GZIP})
LAYERS_PLAIN = frozenset({OCI_LAYER, "application/vnd.oci.image.layer.nondistributable.v1.tar"})
LAYERS_ZSTD = frozenset({OCI_LAYER_ZSTD})
LAYERS = LAYERS_GZIP | LAYERS_PLAIN | LAYERS_ZSTD

# Sent on every manifest GET so the registry never down-converts to schema 1.
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])


def is_index(media_type: str) -> bool:
    """True for an OCI index or a Docker manifest list."""
    return media_type in INDEXES


def is_manifest(media_type: str) -> bool:
    """True for an OCI image manifest or a Docker schema-2 manifest."""
    return media_type in MANIFESTS
