-- 0001: kits, entries, content store, trust roots, audit log, import records.

CREATE TABLE kits (
    kit_id       TEXT PRIMARY KEY,           -- sha256:<hex> of the canonical manifest payload
    name         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('full', 'delta')),
    base_kit_id  TEXT REFERENCES kits(kit_id),
    created      TEXT NOT NULL,               -- RFC 3339 UTC
    expires      TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    actor        TEXT NOT NULL,
    import_id    TEXT NOT NULL UNIQUE,
    forced       INTEGER NOT NULL DEFAULT 0,  -- 1 when imported with --force
    reason       TEXT,                        -- the --reason given with --force
    file_size    INTEGER NOT NULL,
    entry_count  INTEGER NOT NULL,
    total_size   INTEGER NOT NULL,
    manifest     TEXT NOT NULL,               -- canonical JSON payload (what was signed)
    envelope     BLOB NOT NULL                -- the DSSE envelope as shipped
);
CREATE INDEX kits_channel_sequence ON kits(channel, sequence);

CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY,            -- hex; the file is blobs/sha256/<hex>
    size         INTEGER NOT NULL,
    first_kit_id TEXT NOT NULL REFERENCES kits(kit_id),
    added_at     TEXT NOT NULL
);

CREATE TABLE kit_entries (
    kit_id     TEXT NOT NULL REFERENCES kits(kit_id),
    path       TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL REFERENCES blobs(sha256),
    carried    INTEGER NOT NULL,              -- 0: inherited from the base of a delta kit
    PRIMARY KEY (kit_id, path)
);
CREATE INDEX kit_entries_sha256 ON kit_entries(sha256);

CREATE TABLE trust_roots (
    version      INTEGER PRIMARY KEY,
    digest       TEXT NOT NULL UNIQUE,
    expires      TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    actor        TEXT NOT NULL,
    envelope     BLOB NOT NULL
);

CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    details   TEXT NOT NULL,                  -- canonical JSON
    prev_hash TEXT NOT NULL,                  -- hash of seq-1 (64 zeros for the first)
    hash      TEXT NOT NULL                   -- sha256 of the canonical event incl. prev_hash
);

CREATE TABLE import_records (
    import_id TEXT PRIMARY KEY,
    kit_id    TEXT NOT NULL REFERENCES kits(kit_id),
    time      TEXT NOT NULL,
    digest    TEXT NOT NULL,                  -- sha256:<hex> of the payload
    envelope  BLOB NOT NULL                   -- DSSE, signed by the appliance key
);

-- Content by kind, derived from entries at import (see docs/appliance-db.md).
CREATE TABLE releases (
    kit_id   TEXT NOT NULL REFERENCES kits(kit_id),
    path     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    name     TEXT,
    version  TEXT,
    PRIMARY KEY (kit_id, path)
);

CREATE TABLE sboms (
    kit_id  TEXT NOT NULL REFERENCES kits(kit_id),
    path    TEXT NOT NULL,
    sha256  TEXT NOT NULL,
    format  TEXT NOT NULL,                    -- cyclonedx | spdx | unknown
    subject TEXT,                             -- image digest or name the SBOM describes
    PRIMARY KEY (kit_id, path)
);
CREATE INDEX sboms_sha256 ON sboms(sha256);

CREATE TABLE components (
    sbom_sha256 TEXT NOT NULL,
    purl        TEXT,
    name        TEXT NOT NULL,
    version     TEXT,
    type        TEXT
);
CREATE INDEX components_sbom ON components(sbom_sha256);
CREATE INDEX components_purl ON components(purl);

CREATE TABLE advisories (
    kit_id     TEXT NOT NULL REFERENCES kits(kit_id),
    path       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    source     TEXT NOT NULL,                 -- advisories/<source>/...
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    published  TEXT NOT NULL,                 -- the kit's created time: staleness per source
    PRIMARY KEY (kit_id, path)
);
CREATE INDEX advisories_source ON advisories(source, published);
CREATE INDEX advisories_sha256 ON advisories(sha256);

CREATE TABLE vex_statements (
    kit_id        TEXT NOT NULL REFERENCES kits(kit_id),
    path          TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    vulnerability TEXT,
    product       TEXT,
    status        TEXT,
    justification TEXT
);
CREATE INDEX vex_statements_kit ON vex_statements(kit_id);
CREATE INDEX vex_statements_vuln ON vex_statements(vulnerability);

CREATE TABLE policy_packs (
    kit_id  TEXT PRIMARY KEY REFERENCES kits(kit_id),
    digest  TEXT NOT NULL,                    -- sha256 of the canonical [path, sha256] list
    entries TEXT NOT NULL                     -- canonical JSON [[path, sha256], ...]
);
