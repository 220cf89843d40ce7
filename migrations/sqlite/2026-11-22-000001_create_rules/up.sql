-- Rule groups: a name (unique, the `name:` of a Prometheus rule group) and an optional
-- evaluation interval.
CREATE TABLE prom_rule_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    evaluation_interval TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- The first eleven columns are the original Flask pipeline's `prom_rules` table, with its
-- defaults, so that its plain INSERT statements keep working and read back unchanged.
-- `group_id` and `datasource_id` carry no foreign key on purpose: the original wrote ids
-- with no row behind them, and such rules render into a group named `group-<id>`.
CREATE TABLE prom_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    expression TEXT NOT NULL,
    duration TEXT DEFAULT '1m',
    severity TEXT NOT NULL DEFAULT 'warning',
    summary TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    datasource_id INTEGER,
    group_id INTEGER,
    heal_enabled BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- Added by promrules.
    kind TEXT NOT NULL DEFAULT 'alert' CHECK (kind IN ('alert', 'record')),
    name TEXT,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX prom_rules_group_id ON prom_rules (group_id);
CREATE INDEX prom_rules_datasource_id ON prom_rules (datasource_id);
