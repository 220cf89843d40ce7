ALTER TABLE prom_rule_groups DROP COLUMN labels;
ALTER TABLE prom_rule_groups DROP COLUMN query_offset;
ALTER TABLE prom_rule_groups DROP COLUMN rule_limit;
ALTER TABLE prom_rules DROP COLUMN keep_firing_for;
