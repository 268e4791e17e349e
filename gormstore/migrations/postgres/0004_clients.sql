-- oauthstore gormstore schema, version 4, PostgreSQL: client management.
--
-- previous_secret_hash is the hash of the secret a RotateClientSecret
-- replaced, and previous_valid_until_ms the instant until which it still
-- authenticates (inclusive); both NULL when there is none.
--
-- ListClients orders and compares client IDs with COLLATE "C", byte for
-- byte whatever the database's collation; the two indexes serve it, the
-- second with the owner filter of ListClients. Existing rows keep their
-- data and get no previous secret.

ALTER TABLE oauthstore_clients ADD COLUMN previous_secret_hash TEXT NULL, ADD COLUMN previous_valid_until_ms BIGINT NULL;
CREATE INDEX oauthstore_clients_client_id_c_idx ON oauthstore_clients (client_id COLLATE "C");
CREATE INDEX oauthstore_clients_user_id_idx ON oauthstore_clients (user_id, client_id COLLATE "C");

INSERT INTO oauthstore_schema_version (version, name) VALUES (4, '0004_clients');
