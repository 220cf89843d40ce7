-- Service level objectives as stored objects. `spec` is the SLO as JSON (promrules-slo's
-- `Slo`), `sloth_id` its `service-name` (unique: the `sloth_id` label of its rules), and
-- `groups` the JSON list of the rule groups its last write generated, which the SLO owns:
-- every write replaces their rules, a delete removes them.
CREATE TABLE slos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sloth_id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    spec TEXT NOT NULL,
    groups TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Revisions record SLOs too. SQLite cannot alter a CHECK constraint: the table is rebuilt.
CREATE TABLE revision_changes_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL REFERENCES revisions (number) ON DELETE CASCADE,
    entity TEXT NOT NULL CHECK (entity IN ('rule', 'group', 'slo')),
    entity_id INTEGER NOT NULL,
    before TEXT,
    after TEXT
);
INSERT INTO revision_changes_new (id, revision, entity, entity_id, before, after)
    SELECT id, revision, entity, entity_id, before, after FROM revision_changes;
DROP TABLE revision_changes;
ALTER TABLE revision_changes_new RENAME TO revision_changes;
CREATE INDEX revision_changes_revision ON revision_changes (revision);
CREATE INDEX revision_changes_entity ON revision_changes (entity, entity_id);
