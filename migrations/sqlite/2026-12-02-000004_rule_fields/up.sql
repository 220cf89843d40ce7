-- The rest of Prometheus's rule-file format: `keep_firing_for` on alert rules (>= 2.42),
-- and on groups `limit` (>= 2.31), `query_offset` (>= 2.53) and `labels` (>= 3.0, a JSON
-- object of strings like the rules' labels). NULL or '{}' means "not set".
ALTER TABLE prom_rules ADD COLUMN keep_firing_for TEXT;
ALTER TABLE prom_rule_groups ADD COLUMN rule_limit INTEGER;
ALTER TABLE prom_rule_groups ADD COLUMN query_offset TEXT;
ALTER TABLE prom_rule_groups ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
