-- The release each environment runs (appliance/pipeline.py, the console's pipeline page,
-- GET /api/v1/environments): the newest deployed deployment of the environment, read on
-- every page load. Without this index SQLite walks every deployment of the environment.
CREATE INDEX deployments_env_deployed ON deployments(environment, state, finished_at DESC, id DESC);
