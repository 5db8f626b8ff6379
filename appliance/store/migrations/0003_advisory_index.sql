-- The advisory index the findings matcher reads (appliance/findings_index.py), filled at
-- import from each kit's advisories/records.ndjson; per (ecosystem, name, id, source) the
-- record with the newest `modified` wins. Snapshot times per source from sources.json.
CREATE TABLE IF NOT EXISTS advisory_index (
    ecosystem   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    advisory_id TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    modified    TEXT    NOT NULL,
    withdrawn   INTEGER NOT NULL,
    record      TEXT    NOT NULL,
    PRIMARY KEY (ecosystem, name, advisory_id, source)
) WITHOUT ROWID;

CREATE TABLE advisory_snapshots (
    kit_id   TEXT NOT NULL REFERENCES kits(kit_id),
    source   TEXT NOT NULL,
    snapshot TEXT NOT NULL,                   -- when the source was exported (sources.json)
    records  INTEGER NOT NULL,
    PRIMARY KEY (kit_id, source)
);
CREATE INDEX advisory_snapshots_source ON advisory_snapshots(source, snapshot);
