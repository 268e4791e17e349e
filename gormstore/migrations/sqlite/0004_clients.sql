-- oauthstore gormstore schema, version 4, SQLite: client management.
--
-- previous_secret_hash is the hash of the secret a RotateClientSecret
-- replaced, and previous_valid_until_ms the instant until which it still
-- authenticates (inclusive); both NULL when there is none. The index on
-- (user_id, client_id) serves ListClients' owner filter in client ID order;
-- SQLite's default BINARY collation compares client IDs byte for byte.
-- Existing rows keep their data and get no previous secret.

ALTER TABLE oauthstore_clients ADD COLUMN previous_secret_hash TEXT NULL;
ALTER TABLE oauthstore_clients ADD COLUMN previous_valid_until_ms INTEGER NULL;
CREATE INDEX oauthstore_clients_user_id_idx ON oauthstore_clients (user_id, client_id);

INSERT INTO oauthstore_schema_version (version, name) VALUES (4, '0004_clients');
