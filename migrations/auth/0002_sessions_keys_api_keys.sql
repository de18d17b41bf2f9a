-- Sessions, rotating refresh tokens, the signing keyring, CI API keys,
-- login throttling and the security audit log.

ALTER TABLE auth.users ADD COLUMN default_project uuid;

-- Admin listings page through users by id (UUIDv7, so by creation time).
CREATE INDEX users_created_idx ON auth.users (created_at, id);

CREATE TABLE auth.sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES auth.users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoked_reason text,
    client_ip      text
);
CREATE INDEX sessions_live_by_user_idx ON auth.sessions (user_id) WHERE revoked_at IS NULL;
-- The gateway's revocation feed reads sessions revoked after a point in time.
CREATE INDEX sessions_revoked_idx ON auth.sessions (revoked_at, id) WHERE revoked_at IS NOT NULL;

-- Refresh tokens are stored only as SHA-256. A family is every token
-- descended from one login; `parent_id` links each to the one it replaced.
-- `successor_ciphertext` keeps the replacement encrypted (master key) so a
-- concurrent request presenting the immediate predecessor within the grace
-- window gets the same current token instead of tripping reuse detection.
CREATE TABLE auth.refresh_tokens (
    token_hash           bytea PRIMARY KEY,
    id                   uuid NOT NULL,
    family_id            uuid NOT NULL,
    parent_id            uuid,
    session_id           uuid NOT NULL REFERENCES auth.sessions (id),
    status               text NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    rotated_at           timestamptz,
    idle_expires_at      timestamptz NOT NULL,
    family_expires_at    timestamptz NOT NULL,
    successor_ciphertext bytea,
    successor_nonce      bytea,
    successor_key_id     text,
    CONSTRAINT refresh_tokens_id_key UNIQUE (id)
);
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id, status);

-- Ed25519 signing keys. Private keys are encrypted with a master key from
-- configuration (AES-256-GCM, random nonce, the kid as associated data so a
-- ciphertext cannot be moved to another row).
CREATE TABLE auth.signing_keys (
    kid                    text PRIMARY KEY,
    algorithm              text NOT NULL DEFAULT 'EdDSA' CHECK (algorithm = 'EdDSA'),
    public_key             bytea NOT NULL,
    private_key_ciphertext bytea NOT NULL,
    nonce                  bytea NOT NULL,
    master_key_id          text NOT NULL,
    state                  text NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    activates_at           timestamptz NOT NULL,
    retired_at             timestamptz,
    -- Published in the JWKS until then (tokens it signed have expired).
    publish_until          timestamptz
);

-- API keys belong to one project. Management runs in that project's
-- context; introspection finds a key by its hash alone (the gateway does not
-- know the project yet), through a policy that shows exactly the row whose
-- hash the transaction names.
CREATE TABLE auth.api_keys (
    project_id     uuid NOT NULL,
    id             uuid NOT NULL,
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('viewer', 'member')),
    key_hash       bytea NOT NULL,
    display_prefix text NOT NULL,
    last_four      text NOT NULL,
    created_by     uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    PRIMARY KEY (project_id, id)
);
CREATE UNIQUE INDEX api_keys_hash_key ON auth.api_keys (key_hash);
CREATE INDEX api_keys_listing_idx ON auth.api_keys (project_id, created_at DESC, id DESC);

ALTER TABLE auth.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON auth.api_keys
    USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
    WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
CREATE POLICY introspection ON auth.api_keys FOR SELECT
    USING (key_hash = (SELECT decode(nullif(current_setting('app.api_key_hash', true), ''), 'hex')));

-- Failed sign-ins per account (normalised email) and per client IP.
CREATE TABLE auth.login_throttle (
    scope           text NOT NULL CHECK (scope IN ('account', 'ip')),
    subject         text NOT NULL,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    PRIMARY KEY (scope, subject)
);

CREATE TABLE auth.audit_events (
    id          uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    user_id     uuid,
    session_id  uuid,
    client_ip   text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_user_idx ON auth.audit_events (user_id, occurred_at DESC);
CREATE INDEX audit_events_kind_idx ON auth.audit_events (kind, occurred_at DESC);
