-- One row per task: its summary and timestamps, indexed for every history
-- filter in keyset order (created_at DESC, task_id DESC).
CREATE TABLE tasks (
    task_id uuid PRIMARY KEY,
    user_id text NOT NULL,
    task_type text NOT NULL,
    priority text NOT NULL CHECK (priority IN ('high', 'normal', 'low')),
    status text NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    params jsonb NOT NULL,
    max_attempts integer NOT NULL CHECK (max_attempts >= 1),
    attempts integer NOT NULL DEFAULT 0,
    result_ttl_seconds integer NOT NULL,
    idempotency_key text,
    request_id text,
    error jsonb,
    last_seq integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL
);

CREATE INDEX tasks_by_created ON tasks (created_at DESC, task_id DESC);
CREATE INDEX tasks_by_user ON tasks (user_id, created_at DESC, task_id DESC);
CREATE INDEX tasks_by_status ON tasks (status, created_at DESC, task_id DESC);
CREATE INDEX tasks_by_type ON tasks (task_type, created_at DESC, task_id DESC);
