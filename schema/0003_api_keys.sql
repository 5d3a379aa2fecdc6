-- depends: 0002_task_events
-- API keys, stored only as the SHA-256 of the key (keys are 256-bit random,
-- so a slow hash adds nothing).
CREATE TABLE api_keys (
    key_hash text PRIMARY KEY,
    key_prefix text NOT NULL,
    user_id text NOT NULL,
    role text NOT NULL CHECK (role IN ('user', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
