#!/bin/sh
# Run once by the postgres image on a fresh data volume, after schema.sql and roles.sql:
# gives the least-privilege app role its password (the local stack's apply_schema does the same).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_password="$MOCKINFRA_DB_APP_PASSWORD" <<'SQL'
ALTER ROLE mockinfra_app PASSWORD :'app_password';
SQL
