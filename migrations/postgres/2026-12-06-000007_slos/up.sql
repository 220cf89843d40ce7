-- Same as migrations/sqlite: SLOs as stored objects, and revisions that record them.
CREATE TABLE slos (
    id BIGSERIAL PRIMARY KEY,
    sloth_id TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    spec TEXT NOT NULL,
    groups TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

ALTER TABLE revision_changes DROP CONSTRAINT revision_changes_entity_check;
ALTER TABLE revision_changes ADD CONSTRAINT revision_changes_entity_check
    CHECK (entity IN ('rule', 'group', 'slo'));
