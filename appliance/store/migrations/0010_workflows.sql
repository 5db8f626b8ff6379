-- Workflow templates (docs/workflows.md): each stored once by digest and never changed, so a
-- run keeps the version it started with; which template an environment runs is an
-- append-only history (the newest row is in force; no row = the default template).
CREATE TABLE workflow_templates (
    digest     TEXT PRIMARY KEY,              -- sha256: of the normalised template's canonical JSON
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,                 -- the normalised template, canonical JSON
    created_at TEXT NOT NULL
);

CREATE TABLE environment_workflows (
    id          INTEGER PRIMARY KEY,
    environment TEXT NOT NULL REFERENCES environments(name),
    digest      TEXT NOT NULL REFERENCES workflow_templates(digest),
    origin      TEXT NOT NULL CHECK (origin IN ('admin', 'kit')),
    origin_ref  TEXT NOT NULL,                -- the file an admin gave, or the kit's id
    source      BLOB,                         -- the YAML as given (comments kept)
    set_at      TEXT NOT NULL,
    set_by      TEXT NOT NULL
);
CREATE INDEX environment_workflows_env ON environment_workflows(environment, id);
