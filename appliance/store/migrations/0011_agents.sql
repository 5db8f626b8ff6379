-- Agents (docs/agent-protocol.md): one-time registration tokens, stored hashed with their
-- expiry and labels, and the agents they registered. A token is consumed by the UPDATE that
-- sets used_at where it is NULL (one statement, so a second use finds nothing to update).
CREATE TABLE agent_tokens (
    id         TEXT PRIMARY KEY,              -- 12 hex digits, the token's visible part
    hash       TEXT NOT NULL,                 -- sha256 hex of the secret (256 random bits)
    labels     TEXT NOT NULL,                 -- canonical JSON object: the labels the agent gets
    created    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires    TEXT NOT NULL,
    used_at    TEXT,                          -- NULL: not used yet
    used_by    TEXT                           -- the agent it registered
);

-- A name stays taken after revocation: a revoked agent's certificate must never come back
-- as a new agent of the same name.
CREATE TABLE agents (
    name          TEXT PRIMARY KEY,
    labels        TEXT NOT NULL,              -- canonical JSON object, from the token
    capabilities  TEXT NOT NULL,              -- canonical JSON list, from the registration
    token_id      TEXT NOT NULL REFERENCES agent_tokens(id),
    cert_serial   TEXT NOT NULL,              -- hex serial of the client certificate
    cert_sha256   TEXT NOT NULL,              -- hex SHA-256 of its DER
    cert_expires  TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    address       TEXT NOT NULL,              -- the address it registered from
    last_seen     TEXT,                       -- the last heartbeat (the mTLS listener sets it)
    revoked_at    TEXT,
    revoked_by    TEXT,
    revoke_reason TEXT
);
