-- Same as migrations/sqlite. When each host's deploy held its lock: two deploys of one host (two replicas, a server
-- and the command line) never overlap, and the audit trail shows it.
ALTER TABLE deployment_hosts ADD COLUMN locked_at TIMESTAMP;
ALTER TABLE deployment_hosts ADD COLUMN released_at TIMESTAMP;
