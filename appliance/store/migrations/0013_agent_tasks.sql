-- Tasks for agents (docs/agent-protocol.md "Leases"): queued for one agent, leased to it by a
-- poll until lease_expires (each heartbeat naming the lease extends it), finished by the first
-- result under the lease. An idempotency key names one task for ever: enqueuing it again
-- returns the same task.
CREATE TABLE agent_tasks (
    id            TEXT PRIMARY KEY,                 -- task-<16 hex>
    agent         TEXT NOT NULL REFERENCES agents(name),
    kind          TEXT NOT NULL,                    -- a kit.agentproto task type
    payload       TEXT NOT NULL,                    -- canonical JSON object
    key           TEXT NOT NULL UNIQUE,             -- the idempotency key
    repeatable    INTEGER NOT NULL,                 -- 1: re-queued when its lease expires; 0: expired
    state         TEXT NOT NULL,                    -- queued, leased, succeeded, failed, expired
    created       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,       -- leases handed out
    lease_id      TEXT UNIQUE,                      -- the current (or last) lease
    lease_expires TEXT,
    status        TEXT,                             -- the result's: succeeded, failed
    detail        TEXT,
    facts         TEXT,                             -- canonical JSON object, or NULL
    finished      TEXT
);
CREATE INDEX agent_tasks_queue ON agent_tasks (agent, state, created);
