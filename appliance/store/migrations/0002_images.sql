-- 0002: images named by a kit's oci/index.json, and registry seeding progress.

CREATE TABLE images (
    kit_id     TEXT NOT NULL REFERENCES kits(kit_id),
    repository TEXT NOT NULL,                 -- path in the local registry, e.g. library/busybox
    tag        TEXT,
    digest     TEXT NOT NULL,                 -- sha256:<hex> of the manifest or index
    media_type TEXT NOT NULL,
    name       TEXT,                          -- the reference as the bundler recorded it
    PRIMARY KEY (kit_id, repository, digest)
);
CREATE INDEX images_digest ON images(digest);

CREATE TABLE seeded (
    registry   TEXT NOT NULL,                 -- address of the registry seeded
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    seeded_at  TEXT NOT NULL,
    PRIMARY KEY (registry, repository, digest)
);
