-- The dashboard's sessions, so they outlive a restart of the web service
-- and any replica serves any browser. Not tenant data: a session belongs to
-- a browser and its user, across projects (no project_id, no row level
-- security; only web_app reads it).
--
-- The browser's cookie holds the session id; only its SHA-256 is stored,
-- so reading this table yields no usable cookie. The user's access and
-- refresh tokens and the session's CSRF token are sealed (AES-256-GCM,
-- `nonce || ciphertext || tag`) with the web service's session key
-- `key_id`, the associated data being `id_hash`, so a sealed value copied to
-- another row does not open.
CREATE TABLE web.sessions (
    id_hash           bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    email             text NOT NULL,
    key_id            text NOT NULL,
    sealed            bytea NOT NULL,
    -- When the sealed access token lapses (it is refreshed before).
    access_expires_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- Written at most once a minute per session; a session unused for
    -- `service.session_idle_minutes` is no longer found.
    last_used_at      timestamptz NOT NULL DEFAULT now(),
    -- Set at sign-out, when the sealed tokens are also erased.
    revoked_at        timestamptz
);

-- The cleanup job's scan: idle sessions, oldest first.
CREATE INDEX sessions_last_used_idx ON web.sessions (last_used_at);
-- ... and revoked ones.
CREATE INDEX sessions_revoked_idx ON web.sessions (revoked_at) WHERE revoked_at IS NOT NULL;
