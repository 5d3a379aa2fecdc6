-- depends: 0001_tasks
-- The permanent audit trail: one row per transition, retry, preemption,
-- cancel request and worker loss. The database itself refuses UPDATE,
-- DELETE and TRUNCATE.
CREATE TABLE task_events (
    event_id bigserial PRIMARY KEY,
    task_id uuid NOT NULL REFERENCES tasks (task_id),
    seq integer NOT NULL,
    kind text NOT NULL,
    status text,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}',
    UNIQUE (task_id, seq)
);

CREATE FUNCTION task_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'task_events is append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER task_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON task_events
    FOR EACH ROW EXECUTE FUNCTION task_events_refuse_change();

CREATE TRIGGER task_events_no_truncate
    BEFORE TRUNCATE ON task_events
    FOR EACH STATEMENT EXECUTE FUNCTION task_events_refuse_change();
