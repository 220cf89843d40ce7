ALTER TABLE deployment_hosts DROP COLUMN released_at;
ALTER TABLE deployment_hosts DROP COLUMN locked_at;
