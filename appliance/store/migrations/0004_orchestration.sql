-- Release orchestration (docs/promotions.md): users and roles, environments, freeze
-- windows, site state (stop-the-line), promotions with their history, approvals,
-- decision records (never updated) with their inputs, deployments, re-evaluations.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE user_roles (
    name TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL,                       -- requester | approver | deployer | admin | auditor
    PRIMARY KEY (name, role)
);

CREATE TABLE environments (
    name                 TEXT PRIMARY KEY,
    ord                  INTEGER NOT NULL UNIQUE,
    required_approvals   INTEGER NOT NULL,
    approver_role        TEXT NOT NULL,
    separation_of_duties INTEGER NOT NULL,
    soak_seconds         INTEGER NOT NULL,
    staleness_hours      INTEGER NOT NULL,
    policy_timeout       INTEGER NOT NULL,
    created_at           TEXT NOT NULL,
    created_by           TEXT NOT NULL
);

CREATE TABLE freeze_windows (
    id          TEXT PRIMARY KEY,             -- F-0001
    environment TEXT NOT NULL REFERENCES environments(name),
    rrule       TEXT,                         -- RFC 5545 RRULE, NULL for a one-off window
    dtstart     TEXT NOT NULL,                -- local date-time in tz
    duration    INTEGER NOT NULL,             -- seconds of wall-clock time
    tz          TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    removed_at  TEXT,
    removed_by  TEXT
);

CREATE TABLE site_state (
    key   TEXT PRIMARY KEY,                   -- stop_the_line
    value TEXT NOT NULL                       -- canonical JSON
);

CREATE TABLE promotions (
    id              TEXT PRIMARY KEY,         -- P-0001
    release_name    TEXT NOT NULL,
    release_version TEXT NOT NULL,
    release_sha256  TEXT NOT NULL,
    kit_id          TEXT NOT NULL REFERENCES kits(kit_id),
    release_path    TEXT NOT NULL,
    environment     TEXT NOT NULL REFERENCES environments(name),
    requester       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX promotions_env ON promotions(environment, state);

CREATE TABLE promotion_history (
    promotion_id TEXT NOT NULL REFERENCES promotions(id),
    seq          INTEGER NOT NULL,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    note         TEXT NOT NULL,
    PRIMARY KEY (promotion_id, seq)
);

CREATE TABLE approvals (
    promotion_id TEXT NOT NULL REFERENCES promotions(id),
    user         TEXT NOT NULL,
    decision     TEXT NOT NULL,               -- approve | reject
    roles        TEXT NOT NULL,               -- canonical JSON list of the user's roles then
    comment      TEXT,
    at           TEXT NOT NULL,
    PRIMARY KEY (promotion_id, user)
);

CREATE TABLE decision_inputs (
    digest   TEXT PRIMARY KEY,                -- sha256:<hex> of the canonical document
    document TEXT NOT NULL
);

CREATE TABLE decision_records (
    digest       TEXT PRIMARY KEY,            -- sha256:<hex> of the canonical record
    promotion_id TEXT REFERENCES promotions(id),
    release      TEXT NOT NULL,               -- name@version
    environment  TEXT NOT NULL,
    purpose      TEXT NOT NULL,               -- promote | approve | evaluate | reevaluate | deploy
    verdict      TEXT NOT NULL,
    policy       TEXT NOT NULL,               -- the policy gate's verdict
    created_at   TEXT NOT NULL,
    actor        TEXT NOT NULL,
    record       TEXT NOT NULL                -- canonical JSON, never updated
);
CREATE INDEX decision_records_promotion ON decision_records(promotion_id, created_at);

CREATE TABLE deployments (
    id           TEXT PRIMARY KEY,            -- D-0001
    promotion_id TEXT NOT NULL REFERENCES promotions(id),
    environment  TEXT NOT NULL REFERENCES environments(name),
    release      TEXT NOT NULL,               -- name@version
    state        TEXT NOT NULL,               -- deploying | deployed | failed | rolled-back
    deployer     TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    health       TEXT,
    detail       TEXT NOT NULL                -- canonical JSON
);
CREATE INDEX deployments_env ON deployments(environment, release, state);

CREATE TABLE reevaluations (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    changes TEXT NOT NULL                     -- canonical JSON list
);
