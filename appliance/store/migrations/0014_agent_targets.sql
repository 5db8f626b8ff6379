-- 0014: agent targets (docs/deploy.md "Agent targets"): a target may select every ready agent
-- carrying some labels instead of naming one Docker engine. agent_labels is the selector as
-- canonical JSON ({"role": "web"}); NULL for an engine target. Such a target's docker column
-- holds "agents:" and the selector (role=web,site=berlin) so that UNIQUE (docker, project)
-- still keeps two targets from deploying one project to the same hosts.
ALTER TABLE deploy_targets ADD COLUMN agent_labels TEXT;
