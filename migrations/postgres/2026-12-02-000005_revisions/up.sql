-- Same tables as migrations/sqlite. On PostgreSQL a sequence would hand out numbers in
-- insert order, not commit order; the counter row's lock serializes the writers instead.
CREATE TABLE revision_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO revision_counter (id, last) VALUES (1, 0);

CREATE TABLE revisions (
    number BIGINT PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE revision_changes (
    id BIGSERIAL PRIMARY KEY,
    revision BIGINT NOT NULL REFERENCES revisions (number) ON DELETE CASCADE,
    entity TEXT NOT NULL CHECK (entity IN ('rule', 'group')),
    entity_id BIGINT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX revision_changes_revision ON revision_changes (revision);
CREATE INDEX revision_changes_entity ON revision_changes (entity, entity_id);

ALTER TABLE deployments ADD COLUMN revision BIGINT;
ALTER TABLE deployment_hosts ADD COLUMN revision BIGINT;
