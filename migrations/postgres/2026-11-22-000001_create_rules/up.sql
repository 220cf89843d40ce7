-- Same tables as migrations/sqlite; timestamps are UTC without a zone on both backends.
CREATE TABLE prom_rule_groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    evaluation_interval TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- The first eleven columns are the original Flask pipeline's `prom_rules` table, with its
-- defaults; `group_id` and `datasource_id` carry no foreign key on purpose (see the SQLite
-- migration).
CREATE TABLE prom_rules (
    id BIGSERIAL PRIMARY KEY,
    expression TEXT NOT NULL,
    duration TEXT DEFAULT '1m',
    severity TEXT NOT NULL DEFAULT 'warning',
    summary TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    datasource_id BIGINT,
    group_id BIGINT,
    heal_enabled BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    kind TEXT NOT NULL DEFAULT 'alert' CHECK (kind IN ('alert', 'record')),
    name TEXT,
    enabled BOOLEAN NOT NULL DEFAULT true,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX prom_rules_group_id ON prom_rules (group_id);
CREATE INDEX prom_rules_datasource_id ON prom_rules (datasource_id);
