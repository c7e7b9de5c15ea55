"""The schema is idempotent and the application role has data access only."""

from __future__ import annotations

import pytest

from mockinfra.stack import servers

pytestmark = pytest.mark.integration


def test_schema_applies_twice_without_duplicates(postgres_server: servers.PostgresInfo) -> None:
    count = "SELECT (SELECT count(*) FROM users) || ',' || (SELECT count(*) FROM orders)"
    before = servers.psql(postgres_server.admin_dsn, sql=count)
    servers.apply_schema(postgres_server.admin_dsn, app_password=postgres_server.app_password)
    assert servers.psql(postgres_server.admin_dsn, sql=count) == before == "50,200\n"
    assert servers.psql(postgres_server.app_dsn, sql="SELECT count(*) >= 100 FROM mock_data")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE orders",
        "ALTER TABLE users ADD COLUMN x int",
        "TRUNCATE process_log",
        "CREATE ROLE sneaky",
    ],
)
def test_app_role_cannot_change_the_schema(
    postgres_server: servers.PostgresInfo, statement: str
) -> None:
    with pytest.raises(RuntimeError, match=r"permission denied|must be owner"):
        servers.psql(postgres_server.app_dsn, sql=statement)


def test_app_role_reads_writes_and_runs_the_slow_query(
    postgres_server: servers.PostgresInfo,
) -> None:
    out = servers.psql(
        postgres_server.app_dsn,
        sql="INSERT INTO process_log (data, service, status) "
        "VALUES ('{}', 'schema-test', 'ok') RETURNING status",
    )
    assert out.strip() == "ok"
    assert servers.psql(postgres_server.app_dsn, sql="SELECT slow_query_simulation(0.05)") == (
        "0.05\n"
    )
    assert servers.psql(
        postgres_server.app_dsn, sql="SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    ) == ("f\n")
