DROP TABLE prom_rules;
DROP TABLE prom_rule_groups;
