-- oauthstore gormstore schema, version 4, MySQL 8 and MariaDB 10.5+:
-- client management.
--
-- previous_secret_hash is the hash of the secret a RotateClientSecret
-- replaced, and previous_valid_until_ms the instant until which it still
-- authenticates (inclusive); both NULL when there is none.
--
-- clients.user_id becomes VARBINARY(255) (user IDs are at most 255 bytes,
-- backendkit.MaxIDLen), indexable in full and compared byte for byte, for
-- the index on (user_id, client_id) that serves ListClients' owner filter
-- in client ID order; a longer user ID (stored before the limit existed)
-- makes the ALTER fail in strict SQL mode, changing nothing: check with
-- SELECT client_id FROM oauthstore_clients WHERE LENGTH(user_id) > 255
-- first. Existing rows keep their data and get no previous
-- secret. MySQL commits each statement on its own: stop version-3 writers
-- while this runs.

ALTER TABLE oauthstore_clients ADD COLUMN previous_secret_hash TEXT NULL, ADD COLUMN previous_valid_until_ms BIGINT NULL, MODIFY COLUMN user_id VARBINARY(255) NOT NULL;
CREATE INDEX oauthstore_clients_user_id_idx ON oauthstore_clients (user_id, client_id);

INSERT INTO oauthstore_schema_version (version, name) VALUES (4, '0004_clients');
