-- 0015: a deploy target's kind (docs/deploy.md "Swarm targets"): 'compose' (docker compose
-- up of the lock file on one engine, as before) or 'swarm' (docker stack deploy of the lock
-- file through a Swarm manager's engine; project is then the stack's name).
ALTER TABLE deploy_targets ADD COLUMN kind TEXT NOT NULL DEFAULT 'compose';
