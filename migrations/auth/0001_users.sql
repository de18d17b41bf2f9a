-- Identities are global (a user belongs to many projects), so this table is
-- not tenant data and has no project_id.
CREATE TABLE auth.users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    platform_role text NOT NULL DEFAULT 'user' CHECK (platform_role IN ('user', 'admin')),
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_normalized CHECK (email = lower(email)),
    CONSTRAINT users_email_key UNIQUE (email)
);
