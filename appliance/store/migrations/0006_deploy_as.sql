-- 0006: the identity an environment's auto-deploy runs as (docs/deploy.md "Auto-deploy"):
-- a user with the deployer role; NULL: none.
ALTER TABLE deploy_settings ADD COLUMN deploy_as TEXT;

-- every command looks for deployments left 'deploying' (appliance/deploy/unfinished.py)
CREATE INDEX deployments_state ON deployments(state);
