ALTER TABLE deployment_hosts DROP COLUMN targets_hash;
