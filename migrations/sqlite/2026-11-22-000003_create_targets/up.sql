-- What Prometheus scrapes, in Promgen's model. A shard is a set of Prometheus servers; the
-- rules' `datasource_id` holds a shard id (without a foreign key, like `group_id`, because
-- rules may predate their shard).
CREATE TABLE shards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE services (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE farms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL DEFAULT 'promgen',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE farm_hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    farm_id INTEGER NOT NULL REFERENCES farms (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (farm_id, name)
);

-- Deleting a shard or service that projects use is refused; deleting a farm leaves its
-- projects without one (they then export nothing), as in Promgen.
CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    service_id INTEGER NOT NULL REFERENCES services (id),
    shard_id INTEGER NOT NULL REFERENCES shards (id),
    farm_id INTEGER REFERENCES farms (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX projects_shard_id ON projects (shard_id);
CREATE INDEX projects_service_id ON projects (service_id);
CREATE INDEX projects_farm_id ON projects (farm_id);

-- `labels` is a JSON object of extra target labels.
CREATE TABLE exporters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    job TEXT NOT NULL,
    port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    port_end INTEGER CHECK (port_end BETWEEN port AND 65535),
    path TEXT,
    scheme TEXT NOT NULL DEFAULT 'http' CHECK (scheme IN ('http', 'https')),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    labels TEXT NOT NULL DEFAULT '{}',
    scrape_interval TEXT,
    scrape_timeout TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (project_id, job, port)
);
