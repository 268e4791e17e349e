-- oauthstore gormstore schema, version 1, SQLite.
-- Instants are INTEGER unix milliseconds (UTC); credentials are stored only
-- as lowercase hex SHA-256 digests; lists are JSON arrays in TEXT columns.

CREATE TABLE oauthstore_schema_version (
    version INTEGER NOT NULL PRIMARY KEY,
    name    TEXT    NOT NULL
);

CREATE TABLE oauthstore_clients (
    client_id      TEXT    NOT NULL PRIMARY KEY,
    secret_hash    TEXT    NOT NULL,
    grant_types    TEXT    NOT NULL,
    response_types TEXT    NOT NULL,
    redirect_uris  TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    created_at_ms  INTEGER NOT NULL
);

CREATE TABLE oauthstore_codes (
    id                    INTEGER NOT NULL PRIMARY KEY,
    code_digest           TEXT    NOT NULL,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    response_type         TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    auth_time_ms          INTEGER NOT NULL,
    expires_at_ms         INTEGER NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    used                  BOOLEAN NOT NULL,
    used_at_ms            INTEGER NULL
);

CREATE UNIQUE INDEX oauthstore_codes_code_digest_key ON oauthstore_codes (code_digest);

CREATE TABLE oauthstore_tokens (
    id                    INTEGER NOT NULL PRIMARY KEY,
    access_digest         TEXT    NOT NULL,
    refresh_digest        TEXT    NULL,
    client_id             TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    token_type            TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    issued_at_ms          INTEGER NOT NULL,
    expires_at_ms         INTEGER NOT NULL,
    refresh_expires_at_ms INTEGER NULL,
    purge_at_ms           INTEGER NOT NULL,
    revoked               BOOLEAN NOT NULL,
    revoked_at_ms         INTEGER NULL
);

CREATE UNIQUE INDEX oauthstore_tokens_access_digest_key ON oauthstore_tokens (access_digest);
CREATE UNIQUE INDEX oauthstore_tokens_refresh_digest_key ON oauthstore_tokens (refresh_digest);

INSERT INTO oauthstore_schema_version (version, name) VALUES (1, '0001_init');
