-- 0008: jobs, the service's long work (import, deploy, rollback, re-evaluate) run by its
-- worker (appliance/jobs.py, docs/api.md "Jobs"). A job left queued or running by a
-- process that died is marked 'interrupted' when the service starts: reported, never lost.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,                       -- J-0001
    kind TEXT NOT NULL,                        -- import | deploy | rollback | reevaluate
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
    progress REAL NOT NULL DEFAULT 0,          -- 0..1
    message TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    environment TEXT,                          -- deploy and rollback: one at a time per environment
    params TEXT NOT NULL DEFAULT '{}',         -- JSON: what the job was asked to do
    result TEXT,                               -- JSON, when succeeded
    error_kind TEXT,
    error_message TEXT,
    pid INTEGER                                -- the service process running it
);

CREATE INDEX jobs_state ON jobs(state);
