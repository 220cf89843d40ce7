DELETE FROM revision_changes WHERE entity = 'slo';
CREATE TABLE revision_changes_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL REFERENCES revisions (number) ON DELETE CASCADE,
    entity TEXT NOT NULL CHECK (entity IN ('rule', 'group')),
    entity_id INTEGER NOT NULL,
    before TEXT,
    after TEXT
);
INSERT INTO revision_changes_old (id, revision, entity, entity_id, before, after)
    SELECT id, revision, entity, entity_id, before, after FROM revision_changes;
DROP TABLE revision_changes;
ALTER TABLE revision_changes_old RENAME TO revision_changes;
CREATE INDEX revision_changes_revision ON revision_changes (revision);
CREATE INDEX revision_changes_entity ON revision_changes (entity, entity_id);
DROP TABLE slos;
