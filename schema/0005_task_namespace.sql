-- depends: 0004_ca
-- The Redis namespace that holds a task's live state. A scheduler restores
-- from here only the unfinished tasks of its own namespace, so deployments
-- (or test clusters) that share a database never run each other's tasks.
ALTER TABLE tasks ADD COLUMN redis_namespace text NOT NULL DEFAULT 'certq';

CREATE INDEX tasks_unfinished ON tasks (redis_namespace, created_at)
    WHERE status IN ('pending', 'running');
