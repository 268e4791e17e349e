-- oauthstore gormstore schema, version 2, PostgreSQL: the secondary indexes
-- DeleteClient (client_id) and PurgeExpired (expiry instants) search by.

CREATE INDEX oauthstore_codes_client_id_idx ON oauthstore_codes (client_id);
CREATE INDEX oauthstore_codes_expires_at_ms_idx ON oauthstore_codes (expires_at_ms);
CREATE INDEX oauthstore_tokens_client_id_idx ON oauthstore_tokens (client_id);
CREATE INDEX oauthstore_tokens_purge_at_ms_idx ON oauthstore_tokens (purge_at_ms);

INSERT INTO oauthstore_schema_version (version, name) VALUES (2, '0002_indexes');
