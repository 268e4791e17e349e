-- oauthstore gormstore schema, version 3, SQLite: grants and refresh token
-- rotation.
--
-- grant_id, on codes and tokens, names the grant (one authorization) a
-- record belongs to; RevokeGrant, a replayed code and a reused refresh
-- token revoke by it, through its index. tokens.rotated_at_ms is the
-- instant RotateToken replaced the pair (NULL if it did not), which the
-- reuse interval is measured from.
--
-- Rows stored by version 2 have no grant: each gets one of its own,
-- derived from its row id ('v2-code-' or 'v2-token-' and the id in 20
-- digits), so that no two legacy rows share a grant and none has an empty
-- one. The column has no default: a version-2 writer still running would
-- fail to insert rather than store a row without a grant. SQLite adds a
-- NOT NULL column only with a default, so both tables are rebuilt (new
-- table, copy, drop, rename, indexes again), keeping every row and id.
-- Apply the file in one transaction.

CREATE TABLE oauthstore_codes_v3 (
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
    used_at_ms            INTEGER NULL,
    grant_id              TEXT    NOT NULL
);

INSERT INTO oauthstore_codes_v3 (id, code_digest, client_id, redirect_uri, response_type, scope, auth_time_ms, expires_at_ms,
    code_challenge, code_challenge_method, nonce, user_id, used, used_at_ms, grant_id)
SELECT id, code_digest, client_id, redirect_uri, response_type, scope, auth_time_ms, expires_at_ms,
    code_challenge, code_challenge_method, nonce, user_id, used, used_at_ms, printf('v2-code-%020d', id)
FROM oauthstore_codes;

DROP TABLE oauthstore_codes;
ALTER TABLE oauthstore_codes_v3 RENAME TO oauthstore_codes;

CREATE UNIQUE INDEX oauthstore_codes_code_digest_key ON oauthstore_codes (code_digest);
CREATE INDEX oauthstore_codes_client_id_idx ON oauthstore_codes (client_id);
CREATE INDEX oauthstore_codes_expires_at_ms_idx ON oauthstore_codes (expires_at_ms);
CREATE INDEX oauthstore_codes_grant_id_idx ON oauthstore_codes (grant_id);

CREATE TABLE oauthstore_tokens_v3 (
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
    revoked_at_ms         INTEGER NULL,
    grant_id              TEXT    NOT NULL,
    rotated_at_ms         INTEGER NULL
);

INSERT INTO oauthstore_tokens_v3 (id, access_digest, refresh_digest, client_id, scope, token_type, user_id, issued_at_ms,
    expires_at_ms, refresh_expires_at_ms, purge_at_ms, revoked, revoked_at_ms, grant_id, rotated_at_ms)
SELECT id, access_digest, refresh_digest, client_id, scope, token_type, user_id, issued_at_ms,
    expires_at_ms, refresh_expires_at_ms, purge_at_ms, revoked, revoked_at_ms, printf('v2-token-%020d', id), NULL
FROM oauthstore_tokens;

DROP TABLE oauthstore_tokens;
ALTER TABLE oauthstore_tokens_v3 RENAME TO oauthstore_tokens;

CREATE UNIQUE INDEX oauthstore_tokens_access_digest_key ON oauthstore_tokens (access_digest);
CREATE UNIQUE INDEX oauthstore_tokens_refresh_digest_key ON oauthstore_tokens (refresh_digest);
CREATE INDEX oauthstore_tokens_client_id_idx ON oauthstore_tokens (client_id);
CREATE INDEX oauthstore_tokens_purge_at_ms_idx ON oauthstore_tokens (purge_at_ms);
CREATE INDEX oauthstore_tokens_grant_id_idx ON oauthstore_tokens (grant_id);

INSERT INTO oauthstore_schema_version (version, name) VALUES (3, '0003_grants');
