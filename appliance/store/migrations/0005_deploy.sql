-- 0005: deploy targets, per-environment deploy settings, per-target rollouts with their
-- lock files, and rollback requests (docs/deploy.md).
CREATE TABLE deploy_targets (
    name        TEXT PRIMARY KEY,
    environment TEXT NOT NULL REFERENCES environments(name),
    docker      TEXT NOT NULL,                -- unix:///… or tcp://… of the target's engine
    project     TEXT NOT NULL,                -- compose project name on that engine
    env_file    TEXT,                         -- appliance-side file passed to compose --env-file
    registry    TEXT,                         -- the appliance registry as this host reaches it (NULL: as configured)
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    removed_at  TEXT,
    UNIQUE (docker, project)
);

CREATE TABLE deploy_settings (
    environment    TEXT PRIMARY KEY REFERENCES environments(name),
    health_timeout INTEGER NOT NULL,          -- seconds every service has to be running/healthy
    auto_deploy    INTEGER NOT NULL           -- deploy as soon as a promotion is approved
);

CREATE TABLE target_rollouts (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    target        TEXT NOT NULL REFERENCES deploy_targets(name),
    state         TEXT NOT NULL,              -- deploying | deployed | failed | rolled-back
    lock_sha256   TEXT NOT NULL,              -- hex of compose.stella.lock.yml (content store)
    lock_text     TEXT NOT NULL,
    sticker       TEXT,                       -- the signed sticker written on success
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    detail        TEXT NOT NULL,              -- canonical JSON: per-service results, timings, rollback
    PRIMARY KEY (deployment_id, target)
);
CREATE INDEX target_rollouts_target ON target_rollouts(target, state);

CREATE TABLE deploy_packets (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    packet_type   TEXT NOT NULL,              -- deployment | rollback
    sha256        TEXT NOT NULL,              -- the packet file in the content store
    created_at    TEXT NOT NULL,
    PRIMARY KEY (deployment_id, packet_type)
);

CREATE TABLE rollbacks (
    promotion_id TEXT PRIMARY KEY REFERENCES promotions(id),
    environment  TEXT NOT NULL,
    from_release TEXT,                        -- what was deployed when the rollback was asked
    to_release   TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    at           TEXT NOT NULL
);
