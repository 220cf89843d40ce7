ALTER TABLE deployment_hosts DROP COLUMN revision;
ALTER TABLE deployments DROP COLUMN revision;
DROP TABLE revision_changes;
DROP TABLE revisions;
DROP TABLE revision_counter;
