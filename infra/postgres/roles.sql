-- The application role: data access only, no superuser, no DDL.
-- Idempotent. The password is set separately by apply_schema (never stored in this file);
-- :"dbname" is not used so the file also works through a plain driver: the database name is
-- looked up with current_database().

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mockinfra_app') THEN
        CREATE ROLE mockinfra_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
            CONNECTION LIMIT 100;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO mockinfra_app', current_database());
END;
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM mockinfra_app;
GRANT USAGE ON SCHEMA public TO mockinfra_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON mock_data, users, orders, process_log TO mockinfra_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mockinfra_app;
REVOKE EXECUTE ON FUNCTION slow_query_simulation(DOUBLE PRECISION) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION slow_query_simulation(DOUBLE PRECISION) TO mockinfra_app;
