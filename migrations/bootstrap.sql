-- One-time (and safe to repeat) database setup, run by a database admin
-- with a role that may create roles and schemas:
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f migrations/bootstrap.sql
--
-- For each service it creates:
--   <svc>_owner  owns the schema, runs migrations (`<service> migrate`)
--   <svc>_app    runtime role: owns nothing, NOSUPERUSER, NOBYPASSRLS, so
--                row level security always applies to it
--   <svc>        the schema, owned by <svc>_owner
-- and the grants that let <svc>_app use whatever <svc>_owner creates.
-- Passwords are not set here; set them afterwards (ALTER ROLE ... PASSWORD)
-- from your secret store. Services refuse to start as an unsafe role.

DO $bootstrap$
DECLARE
    svc   text;
    owner text;
    app   text;
BEGIN
    FOREACH svc IN ARRAY ARRAY['auth', 'project', 'failure', 'analytics', 'integration', 'web'] LOOP
        owner := svc || '_owner';
        app := svc || '_app';

        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', owner);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', app);
        END IF;
        EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', owner);
        EXECUTE format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', app);

        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I, %I', current_database(), owner, app);
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, owner);
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc, owner);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', svc, app);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', owner, svc, app);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', owner, svc, app);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO %I', owner, svc, app);
    END LOOP;

    -- The analytics read model: views the failure schema publishes
    -- (security_invoker, so RLS still applies to analytics_app).
    GRANT USAGE ON SCHEMA failure TO analytics_app;
END
$bootstrap$;

-- Nobody creates objects in public; extensions live in their own schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO PUBLIC;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA extensions;
