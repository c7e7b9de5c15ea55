-- The role postgres-exporter connects as: reads statistics through pg_monitor, nothing else.
-- Idempotent; the password is set separately by the stack runner (never stored here).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mockinfra_monitor') THEN
        CREATE ROLE mockinfra_monitor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            CONNECTION LIMIT 5;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO mockinfra_monitor', current_database());
END;
$$;

GRANT pg_monitor TO mockinfra_monitor;
