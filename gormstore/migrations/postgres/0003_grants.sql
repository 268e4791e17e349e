-- oauthstore gormstore schema, version 3, PostgreSQL: grants and refresh
-- token rotation.
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
-- fail to insert rather than store a row without a grant.

ALTER TABLE oauthstore_codes ADD COLUMN grant_id TEXT NULL;
UPDATE oauthstore_codes SET grant_id = 'v2-code-' || lpad(CAST(id AS TEXT), 20, '0');
ALTER TABLE oauthstore_codes ALTER COLUMN grant_id SET NOT NULL;
CREATE INDEX oauthstore_codes_grant_id_idx ON oauthstore_codes (grant_id);

ALTER TABLE oauthstore_tokens ADD COLUMN grant_id TEXT NULL, ADD COLUMN rotated_at_ms BIGINT NULL;
UPDATE oauthstore_tokens SET grant_id = 'v2-token-' || lpad(CAST(id AS TEXT), 20, '0');
ALTER TABLE oauthstore_tokens ALTER COLUMN grant_id SET NOT NULL;
CREATE INDEX oauthstore_tokens_grant_id_idx ON oauthstore_tokens (grant_id);

INSERT INTO oauthstore_schema_version (version, name) VALUES (3, '0003_grants');
