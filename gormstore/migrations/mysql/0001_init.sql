-- oauthstore gormstore schema, version 1, MySQL 8 and MariaDB 10.5+.
-- Instants are BIGINT unix milliseconds (UTC); credentials are stored only
-- as lowercase hex SHA-256 digests; lists are JSON arrays in TEXT columns.
-- Client IDs are VARBINARY so that they compare byte for byte (no case
-- folding, no trailing-space padding), as on the other databases.

CREATE TABLE oauthstore_schema_version (
    version INT          NOT NULL PRIMARY KEY,
    name    VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE oauthstore_clients (
    client_id      VARBINARY(255) NOT NULL PRIMARY KEY,
    secret_hash    TEXT           NOT NULL,
    grant_types    TEXT           NOT NULL,
    response_types TEXT           NOT NULL,
    redirect_uris  MEDIUMTEXT     NOT NULL,
    scope          TEXT           NOT NULL,
    user_id        TEXT           NOT NULL,
    created_at_ms  BIGINT         NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE oauthstore_codes (
    id                    BIGINT         NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code_digest           CHAR(64)       CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    client_id             VARBINARY(255) NOT NULL,
    redirect_uri          TEXT           NOT NULL,
    response_type         TEXT           NOT NULL,
    scope                 TEXT           NOT NULL,
    auth_time_ms          BIGINT         NOT NULL,
    expires_at_ms         BIGINT         NOT NULL,
    code_challenge        TEXT           NOT NULL,
    code_challenge_method VARCHAR(16)    NOT NULL,
    nonce                 TEXT           NOT NULL,
    user_id               TEXT           NOT NULL,
    used                  BOOLEAN        NOT NULL,
    used_at_ms            BIGINT         NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE UNIQUE INDEX oauthstore_codes_code_digest_key ON oauthstore_codes (code_digest);

CREATE TABLE oauthstore_tokens (
    id                    BIGINT         NOT NULL AUTO_INCREMENT PRIMARY KEY,
    access_digest         CHAR(64)       CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    refresh_digest        CHAR(64)       CHARACTER SET ascii COLLATE ascii_bin NULL,
    client_id             VARBINARY(255) NOT NULL,
    scope                 TEXT           NOT NULL,
    token_type            TEXT           NOT NULL,
    user_id               TEXT           NOT NULL,
    issued_at_ms          BIGINT         NOT NULL,
    expires_at_ms         BIGINT         NOT NULL,
    refresh_expires_at_ms BIGINT         NULL,
    purge_at_ms           BIGINT         NOT NULL,
    revoked               BOOLEAN        NOT NULL,
    revoked_at_ms         BIGINT         NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE UNIQUE INDEX oauthstore_tokens_access_digest_key ON oauthstore_tokens (access_digest);
CREATE UNIQUE INDEX oauthstore_tokens_refresh_digest_key ON oauthstore_tokens (refresh_digest);

INSERT INTO oauthstore_schema_version (version, name) VALUES (1, '0001_init');
