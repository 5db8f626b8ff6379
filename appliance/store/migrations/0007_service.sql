-- 0007: the appliance as a service (docs/service.md): console passwords, sessions,
-- API tokens, failed logins. Secrets are stored hashed only: passwords with argon2id,
-- session ids and API token secrets (random, 256 bits) with sha256.

-- one argon2id hash per user who may log in to the console
CREATE TABLE passwords (
    name TEXT PRIMARY KEY REFERENCES users(name),
    hash TEXT NOT NULL,
    changed TEXT NOT NULL,
    changed_by TEXT NOT NULL
);

-- server-side sessions: the cookie holds the opaque id, the table its sha256
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    csrf_token TEXT NOT NULL,
    address TEXT NOT NULL,
    created TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    expires TEXT NOT NULL,          -- absolute expiry (idle expiry: last_seen + the idle limit)
    revoked TEXT                    -- when logged out, or the password changed
);
CREATE INDEX sessions_user ON sessions(user);

-- API tokens: "stella_<id>_<secret>", the secret's sha256 stored
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    hash TEXT NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires TEXT,                   -- NULL: never
    revoked TEXT,
    last_used TEXT
);
CREATE INDEX api_tokens_user ON api_tokens(user);

-- failed logins, counted per user and per client address over a window (rate limit)
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    address TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures(user, time);
CREATE INDEX login_failures_address ON login_failures(address, time);
