-- Prometheus hosts the deployer manages; `spec` is the host description as JSON (the same
-- shape as an inventory entry), validated by the deployer before it is stored.
CREATE TABLE deploy_hosts (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- The audit trail: one row per deploy, one per host of it.
CREATE TABLE deployments (
    id BIGSERIAL PRIMARY KEY,
    actor TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    options TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '',
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);

CREATE TABLE deployment_hosts (
    id BIGSERIAL PRIMARY KEY,
    deployment_id BIGINT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    lines_added BIGINT NOT NULL,
    lines_removed BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    finished_at TIMESTAMP NOT NULL
);

CREATE INDEX deployment_hosts_deployment_id ON deployment_hosts (deployment_id);
