-- The seed's schema, indexes, sample rows and slow-query function.
-- Idempotent: applied on every start by the stack runner and the test fixtures
-- (mockinfra.stack.servers.apply_schema); re-running it changes nothing.

CREATE TABLE IF NOT EXISTS mock_data (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(255)   NOT NULL,
    value       NUMERIC(10, 2) NOT NULL DEFAULT 0,
    status      VARCHAR(32)    NOT NULL DEFAULT 'active',
    metadata    JSONB          NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ    NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ    NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
    id          BIGSERIAL PRIMARY KEY,
    username    VARCHAR(64)  NOT NULL UNIQUE,
    email       VARCHAR(255) NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_login  TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS orders (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    total_amount  NUMERIC(10, 2) NOT NULL DEFAULT 0,
    status        VARCHAR(32)    NOT NULL DEFAULT 'pending',
    created_at    TIMESTAMPTZ    NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS process_log (
    id            BIGSERIAL PRIMARY KEY,
    data          JSONB        NOT NULL DEFAULT '{}'::jsonb,
    processed_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    service       VARCHAR(64)  NOT NULL,
    status        VARCHAR(32)  NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_mock_data_status ON mock_data (status);
CREATE INDEX IF NOT EXISTS idx_mock_data_created_at ON mock_data (created_at);
CREATE INDEX IF NOT EXISTS idx_orders_user_id ON orders (user_id);
CREATE INDEX IF NOT EXISTS idx_orders_status ON orders (status);
CREATE INDEX IF NOT EXISTS idx_orders_created_at ON orders (created_at);
CREATE INDEX IF NOT EXISTS idx_process_log_processed_at ON process_log (processed_at);
CREATE INDEX IF NOT EXISTS idx_process_log_service_status ON process_log (service, status);

-- Sample rows with fixed ids, so every fresh database holds the same data; ON CONFLICT keeps
-- re-runs from duplicating them, and the sequences are moved past them below.
INSERT INTO users (id, username, email, created_at, last_login)
SELECT g,
       'user' || lpad(g::text, 3, '0'),
       'user' || lpad(g::text, 3, '0') || '@example.com',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day',
       CASE WHEN g % 5 = 0 THEN NULL
            ELSE timestamptz '2024-06-01 00:00:00+00' + g * interval '3 hours' END
FROM generate_series(1, 50) AS g
ON CONFLICT DO NOTHING;

INSERT INTO mock_data (id, name, value, status, metadata, created_at, updated_at)
SELECT g,
       'item-' || lpad(g::text, 3, '0'),
       round(((g * 37) % 10000)::numeric / 10, 2),
       (ARRAY['active', 'inactive', 'pending'])[1 + g % 3],
       jsonb_build_object('category', (ARRAY['alpha', 'beta', 'gamma', 'delta'])[1 + g % 4],
                          'seq', g),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour',
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 100) AS g
ON CONFLICT DO NOTHING;

INSERT INTO orders (id, user_id, total_amount, status, created_at)
SELECT g,
       1 + (g * 7) % 50,
       round(((g * 1237) % 50000)::numeric / 100, 2),
       (ARRAY['pending', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + g % 5],
       timestamptz '2024-02-01 00:00:00+00' + g * interval '90 minutes'
FROM generate_series(1, 200) AS g
ON CONFLICT DO NOTHING;

-- Never move a sequence backwards: rows the application added may sit above the samples.
SELECT setval('users_id_seq',
              GREATEST((SELECT max(id) FROM users), (SELECT last_value FROM users_id_seq)));
SELECT setval('mock_data_id_seq',
              GREATEST((SELECT max(id) FROM mock_data), (SELECT last_value FROM mock_data_id_seq)));
SELECT setval('orders_id_seq',
              GREATEST((SELECT max(id) FROM orders), (SELECT last_value FROM orders_id_seq)));

-- Slow-query scenarios: SELECT slow_query_simulation(3) holds a connection for 3 s.
CREATE OR REPLACE FUNCTION slow_query_simulation(seconds DOUBLE PRECISION DEFAULT 2.0)
RETURNS DOUBLE PRECISION
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_sleep(seconds);
    RETURN seconds;
END;
$$;
