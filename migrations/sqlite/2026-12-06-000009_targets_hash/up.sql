-- The SHA-256 of the file_sd target file a deploy kept on a host with a `targets_file`.
ALTER TABLE deployment_hosts ADD COLUMN targets_hash TEXT;
