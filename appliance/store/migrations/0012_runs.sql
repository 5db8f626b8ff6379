-- Workflow runs (docs/workflows.md "Runs"): one run per promotion, of the template (by
-- digest) its environment ran when it was requested. Each step's row is its latest attempt;
-- run_attempts keeps every attempt for the evidence. A step being executed holds a lease
-- (the process, and when the lease ends); a step that waits on people or time is running
-- with no lease, and any process may look at it again.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,             -- R-0001
    promotion_id  TEXT NOT NULL UNIQUE REFERENCES promotions(id),
    environment   TEXT NOT NULL,
    release       TEXT NOT NULL,                -- name@version
    template      TEXT NOT NULL,                -- the template's digest
    template_name TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    cancelled     INTEGER NOT NULL DEFAULT 0,
    cancel_reason TEXT,
    started_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    wake_at       TEXT,                         -- plan again then at the latest (a retry, a soak)
    packet        TEXT                          -- sha256 hex of the workflow_run evidence packet, once ended
);
CREATE INDEX runs_state ON runs(state, wake_at);

CREATE TABLE run_steps (
    run_id        TEXT NOT NULL REFERENCES runs(id),
    step          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped',
                                                  'cancelled')),
    attempt       INTEGER NOT NULL DEFAULT 0,
    started_at    TEXT,
    finished_at   TEXT,
    outputs       TEXT NOT NULL DEFAULT '{}',   -- canonical JSON object
    message       TEXT,                         -- what it waits for, or why it failed
    idem_key      TEXT,                         -- run/step/attempt: the key of the attempt's effects
    lease_owner   TEXT,                         -- host:pid:start-time of the process executing it
    lease_expires TEXT,
    inputs_sha256 TEXT,                         -- sha256: of the attempt's inputs (canonical JSON)
    log_sha256    TEXT,
    log_bytes     INTEGER,
    replay        TEXT,                         -- what a verifier re-evaluates (gate, approval): canonical JSON
    PRIMARY KEY (run_id, step)
);

CREATE TABLE run_attempts (
    run_id      TEXT NOT NULL REFERENCES runs(id),
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    message     TEXT,
    outputs     TEXT NOT NULL DEFAULT '{}',
    inputs_sha256 TEXT,
    log_sha256  TEXT,
    log_bytes   INTEGER,
    replay      TEXT,
    PRIMARY KEY (run_id, step, attempt)
);

-- The outbox: what `notify` steps said (console, API); a webhook delivery is recorded here too.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    idem_key    TEXT NOT NULL UNIQUE,           -- the step attempt's key: one entry per attempt
    run_id      TEXT,
    step        TEXT,
    severity    TEXT NOT NULL,
    message     TEXT NOT NULL,
    webhook     TEXT,
    created_at  TEXT NOT NULL,
    delivered_at TEXT,
    delivery    TEXT
);
