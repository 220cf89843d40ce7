-- Rule history. Every write to rules and groups is one revision; its number comes from the
-- single counter row, which each write transaction updates, so numbers increase in commit
-- order (writers queue on the row) and never repeat.
CREATE TABLE revision_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO revision_counter (id, last) VALUES (1, 0);

CREATE TABLE revisions (
    number INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- One row per rule or group a revision changed: its spec (JSON) before and after; NULL
-- before is a creation, NULL after a deletion.
CREATE TABLE revision_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL REFERENCES revisions (number) ON DELETE CASCADE,
    entity TEXT NOT NULL CHECK (entity IN ('rule', 'group')),
    entity_id INTEGER NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX revision_changes_revision ON revision_changes (revision);
CREATE INDEX revision_changes_entity ON revision_changes (entity, entity_id);

-- The revision a deploy rendered, and per host the revision live there after it.
ALTER TABLE deployments ADD COLUMN revision INTEGER;
ALTER TABLE deployment_hosts ADD COLUMN revision INTEGER;
