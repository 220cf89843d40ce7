-- Same columns as migrations/sqlite: `keep_firing_for` on alert rules, and the groups'
-- `limit`, `query_offset` and `labels` (a JSON object of strings, as text).
ALTER TABLE prom_rules ADD COLUMN keep_firing_for TEXT;
ALTER TABLE prom_rule_groups ADD COLUMN rule_limit BIGINT;
ALTER TABLE prom_rule_groups ADD COLUMN query_offset TEXT;
ALTER TABLE prom_rule_groups ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
