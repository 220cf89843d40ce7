DELETE FROM revision_changes WHERE entity = 'slo';
ALTER TABLE revision_changes DROP CONSTRAINT revision_changes_entity_check;
ALTER TABLE revision_changes ADD CONSTRAINT revision_changes_entity_check
    CHECK (entity IN ('rule', 'group'));
DROP TABLE slos;
