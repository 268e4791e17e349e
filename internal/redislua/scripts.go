// Package redislua holds redisstore's server-side Lua scripts, so that
// the store and the benchmarks that send the same commands by hand (bench's
// raw driver) run one and the same text.
package redislua

import "github.com/redis/go-redis/v9"

// The server-side scripts. Each decision that must be atomic is one
// script: Redis runs a script to its end before it serves any other
// command, so no other client sees, or writes between, its steps.
// go-redis runs them with EVALSHA and falls back to EVAL when the server
// does not have the script cached (after a restart or SCRIPT FLUSH).
//
// Conventions, shared with the Go side (redisstore/redisstore.go, record.go):
//
//   - ARGV[1] is always P, the store's key prefix with its hash tag,
//     "{prefix}:". KEYS names the keys known before the script runs (for
//     Redis Cluster routing); keys found through an index are derived from
//     P, so every key a script touches is in the declared keys' slot.
//   - Instants are integers, unix milliseconds by the store's clock, given
//     by the caller: a record that expires at e is expired when
//     e < now, where now is backendkit.CeilMillis of the clock. No script
//     reads the server's clock (TIME).
//   - Index members: "c:" or "t:" and the digest of a code or of a pair's
//     access token, in grant:<id> and issued:<client id> sets; the
//     expiry sorted sets hold expiryMember strings, scored by expiry.
//   - A missing hash field reads as false; the scripts never write a field
//     of a key that does not exist (HSET would create it), and check that
//     a record found through an index still belongs to what the index says
//     (Redis may have deleted it by its TTL and the credential been stored
//     again since).

// luaLib holds the helpers the scripts share.
const luaLib = `
local P = ARGV[1]

-- extend sets k's TTL to ttl ms unless it is already longer: an index
-- lives as long as the longest-lived record it lists.
local function extend(k, ttl)
  if redis.call('PTTL', k) < ttl then
    redis.call('PEXPIRE', k, ttl)
  end
end

local function member(d, cid, gid)
  return d .. ' ' .. string.len(cid) .. ' ' .. cid .. gid
end

-- parse splits an expiry member into digest, client ID and grant ID.
local function parse(m)
  local sp = string.find(m, ' ', 66, true)
  local n = tonumber(string.sub(m, 66, sp - 1))
  return string.sub(m, 1, 64), string.sub(m, sp + 1, sp + n), string.sub(m, sp + n + 1)
end

local function record_key(m)
  if string.sub(m, 1, 1) == 't' then
    return P .. 'access:' .. string.sub(m, 3)
  end
  return P .. 'code:' .. string.sub(m, 3)
end

-- revoke_grant revokes every token of grant gid and, if codes, marks its
-- codes used. It drops index entries whose record is gone, and returns how
-- many records the grant has.
local function revoke_grant(gid, codes)
  local gk = P .. 'grant:' .. gid
  local n = 0
  for _, m in ipairs(redis.call('SMEMBERS', gk)) do
    local k = record_key(m)
    if redis.call('HGET', k, 'grant_id') == gid then
      n = n + 1
      if string.sub(m, 1, 1) == 't' then
        redis.call('HSET', k, 'revoked', '1')
      elseif codes then
        redis.call('HSET', k, 'used', '1')
      end
    else
      redis.call('SREM', gk, m)
    end
  end
  return n
end

-- insert_token stores a pair whose credentials are known to be free:
-- a = access digest, r = refresh digest or '', m = expiry member,
-- score = purge instant, ttl in ms, fields = the hash's field-value list.
local function insert_token(a, r, m, score, ttl, gid, cid, fields)
  local k = P .. 'access:' .. a
  redis.call('HSET', k, unpack(fields))
  redis.call('PEXPIRE', k, ttl)
  if r ~= '' then
    redis.call('SET', P .. 'refresh:' .. r, a, 'PX', ttl)
  end
  redis.call('ZADD', P .. 'expiry:tokens', score, m)
  local gk, ik = P .. 'grant:' .. gid, P .. 'issued:' .. cid
  redis.call('SADD', gk, 't:' .. a)
  extend(gk, ttl)
  redis.call('SADD', ik, 't:' .. a)
  extend(ik, ttl)
end
`

// CreateClient: KEYS[1] client key, KEYS[2] clients set, KEYS[3] (if the
// client has an owner) owner set. ARGV: P, client ID, fields... Returns 1,
// or 0 if the ID is taken.
var CreateClient = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], 0, ARGV[2])
if KEYS[3] then redis.call('ZADD', KEYS[3], 0, ARGV[2]) end
return 1
`)

// DeleteClient: KEYS[1] client key, KEYS[2] issued set, KEYS[3] clients
// set. ARGV: P, client ID. Deletes the client's codes and pairs, then the
// client. Returns 1, or 0 if no client was stored.
var DeleteClient = redis.NewScript(luaLib + `
local cid = ARGV[2]
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local d = string.sub(m, 3)
  local k = record_key(m)
  local f = redis.call('HMGET', k, 'client_id', 'grant_id', 'refresh')
  if f[1] == cid then
    redis.call('DEL', k)
    redis.call('SREM', P .. 'grant:' .. f[2], m)
    if string.sub(m, 1, 1) == 't' then
      redis.call('ZREM', P .. 'expiry:tokens', member(d, cid, f[2]))
      if f[3] ~= '' then
        local rk = P .. 'refresh:' .. f[3]
        if redis.call('GET', rk) == d then redis.call('DEL', rk) end
      end
    else
      redis.call('ZREM', P .. 'expiry:codes', member(d, cid, f[2]))
    end
  end
end
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local owner = redis.call('HGET', KEYS[1], 'user_id')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], cid)
if owner and owner ~= '' then
  redis.call('ZREM', P .. 'owner:' .. owner, cid)
end
return 1
`)

// UpdateClient: KEYS[1] client key. ARGV: P, client ID, user ID,
// registration fields... Replaces the registration and moves the client
// between owner indexes. Returns 1, or 0 if there is no such client.
var UpdateClient = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[1], 'user_id')
if old ~= ARGV[3] then
  if old and old ~= '' then redis.call('ZREM', P .. 'owner:' .. old, ARGV[2]) end
  if ARGV[3] ~= '' then redis.call('ZADD', P .. 'owner:' .. ARGV[3], 0, ARGV[2]) end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
return 1
`)

// SetSecrets: KEYS[1] client key. ARGV: P, then the secret fields'
// expected stored values (hash, previous hash, previous until), or '*' as
// the first to set them whatever they are, then the new secret fields...
// Returns 1; 0 if there is no such client; -1 if the secrets are not the
// expected ones (changed since the caller read them).
var SetSecrets = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] ~= '*' then
  local f = redis.call('HMGET', KEYS[1], 'secret_hash', 'previous_secret_hash', 'previous_secret_until')
  if (f[1] or '') ~= ARGV[2] or (f[2] or '') ~= ARGV[3] or (f[3] or '') ~= ARGV[4] then return -1 end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
return 1
`)

// ListClients: KEYS[1] the clients index or an owner index. ARGV: P, the
// cursor (” for none), how many. Returns client ID, fields, client ID,
// fields, ... of the first clients after the cursor, in bytewise order
// (the index's members all score 0, so ZRANGEBYLEX orders them by
// memcmp), read in one step.
var ListClients = redis.NewScript(luaLib + `
local min = '-'
if ARGV[2] ~= '' then min = '(' .. ARGV[2] end
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, tonumber(ARGV[3]))) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', P .. 'client:' .. id)
end
return out
`)

// RevokeClientTokens: KEYS[1] client key, KEYS[2] issued set. ARGV: P,
// client ID. Revokes the client's token pairs and marks its codes used;
// returns how many records (the client included) there were.
var RevokeClientTokens = redis.NewScript(luaLib + `
local n = redis.call('EXISTS', KEYS[1])
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local k = record_key(m)
  if redis.call('HGET', k, 'client_id') == ARGV[2] then
    n = n + 1
    if string.sub(m, 1, 1) == 't' then
      redis.call('HSET', k, 'revoked', '1')
    else
      redis.call('HSET', k, 'used', '1')
    end
  else
    redis.call('SREM', KEYS[2], m)
  end
end
return n
`)

// CreateCode: KEYS[1] code key. ARGV: P, digest, expiry member, expiry,
// ttl, grant ID, client ID, fields... Returns 1, or 0 if the code is
// taken.
var CreateCode = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ttl = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', P .. 'expiry:codes', ARGV[4], ARGV[3])
local gk, ik = P .. 'grant:' .. ARGV[6], P .. 'issued:' .. ARGV[7]
redis.call('SADD', gk, 'c:' .. ARGV[2])
extend(gk, ttl)
redis.call('SADD', ik, 'c:' .. ARGV[2])
extend(ik, ttl)
return 1
`)

// ConsumeCode: KEYS[1] code key. ARGV: P, now. Returns {status, fields}:
// "ok" (this caller consumed it), "expired" (nothing changed), "used" (a
// replay: the grant's tokens are revoked), or {"missing"}.
var ConsumeCode = redis.NewScript(luaLib + `
local f = redis.call('HMGET', KEYS[1], 'used', 'exp', 'grant_id')
if not f[2] then return {'missing'} end
local status = 'used'
if f[1] ~= '1' then
  if tonumber(f[2]) < tonumber(ARGV[2]) then
    status = 'expired'
  else
    redis.call('HSET', KEYS[1], 'used', '1')
    status = 'ok'
  end
else
  revoke_grant(f[3], false)
end
return {status, redis.call('HGETALL', KEYS[1])}
`)

// DeleteCode: KEYS[1] code key. ARGV: P, digest. Returns 1, or 0 if there
// is no such code.
var DeleteCode = redis.NewScript(luaLib + `
local f = redis.call('HMGET', KEYS[1], 'client_id', 'grant_id')
if not f[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', P .. 'expiry:codes', member(ARGV[2], f[1], f[2]))
redis.call('SREM', P .. 'grant:' .. f[2], 'c:' .. ARGV[2])
redis.call('SREM', P .. 'issued:' .. f[1], 'c:' .. ARGV[2])
return 1
`)

// CreateToken: KEYS[1] access key. ARGV: P, access digest, refresh digest
// or ”, expiry member, purge instant, ttl, grant ID, client ID, fields...
// Returns "ok", or "access" or "refresh": the credential that is taken.
var CreateToken = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'access' end
if ARGV[3] ~= '' and redis.call('EXISTS', P .. 'refresh:' .. ARGV[3]) == 1 then return 'refresh' end
insert_token(ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], {unpack(ARGV, 9)})
return 'ok'
`)

// GetByRefresh: KEYS[1] refresh key. ARGV: P. Returns the fields of the
// pair, empty if there is none.
var GetByRefresh = redis.NewScript(luaLib + `
local a = redis.call('GET', KEYS[1])
if not a then return {} end
return redis.call('HGETALL', P .. 'access:' .. a)
`)

// RevokeToken: KEYS[1] access key and KEYS[2] refresh key of one value.
// ARGV: P. Revokes the pair whose access token it is and the pair whose
// refresh token it is; returns how many it found.
var RevokeToken = redis.NewScript(luaLib + `
local n = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  n = n + 1
end
local a = redis.call('GET', KEYS[2])
if a then
  local k = P .. 'access:' .. a
  if redis.call('EXISTS', k) == 1 then
    redis.call('HSET', k, 'revoked', '1')
    n = n + 1
  end
end
return n
`)

// RotateToken: KEYS[1] refresh key of the old pair. ARGV: P, now, the
// rotation instant, the earliest rotation instant within the reuse
// interval (” for no interval), the old pair's client ID and grant ID as
// the caller read them, "1" if the caller checked the next pair against
// them, then the next pair: access digest, refresh digest or ”, expiry
// member, purge instant, ttl, grant ID, client ID, fields...
//
// Returns {"ok"}; {"missing"}; {"retry"} (the pair is not the one the
// caller read, or the caller did not check the next pair against a live
// one: read again); {"within"} (a replay within the reuse interval:
// nothing changes); {"reuse"} (the pair was revoked: every token of its
// grant is now revoked); {"expired"} (nothing changes); {"exists",
// "access"|"refresh"} (a credential of the next pair is taken: nothing
// changes).
var RotateToken = redis.NewScript(luaLib + `
local a = redis.call('GET', KEYS[1])
if not a then return {'missing'} end
local k = P .. 'access:' .. a
local f = redis.call('HMGET', k, 'client_id', 'grant_id', 'revoked', 'refresh_exp', 'rotated_at')
if not f[1] then return {'missing'} end
if f[1] ~= ARGV[5] or f[2] ~= ARGV[6] then return {'retry'} end
if f[3] == '1' then
  if ARGV[4] ~= '' and f[5] and tonumber(f[5]) >= tonumber(ARGV[4]) then return {'within'} end
  revoke_grant(f[2], false)
  return {'reuse'}
end
if tonumber(f[4]) < tonumber(ARGV[2]) then return {'expired'} end
if ARGV[7] ~= '1' then return {'retry'} end
if redis.call('EXISTS', P .. 'access:' .. ARGV[8]) == 1 then return {'exists', 'access'} end
if ARGV[9] ~= '' and redis.call('EXISTS', P .. 'refresh:' .. ARGV[9]) == 1 then return {'exists', 'refresh'} end
insert_token(ARGV[8], ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]), ARGV[13], ARGV[14], {unpack(ARGV, 15)})
redis.call('HSET', k, 'revoked', '1', 'rotated_at', ARGV[3])
return {'ok'}
`)

// RevokeGrant: KEYS[1] grant set. ARGV: P, grant ID. Revokes the grant's
// tokens and marks its codes used; returns how many records it has.
var RevokeGrant = redis.NewScript(luaLib + `
return revoke_grant(ARGV[2], true)
`)

// Purge: KEYS[1] an expiry sorted set. ARGV: P, now, batch size, "c" for
// codes or "t" for token pairs. Deletes, of the first batch-size entries
// that expired before now, the records that are still stored, and removes
// the entries and their records' index entries. Returns {records deleted,
// entries removed, entries read}.
var Purge = redis.NewScript(luaLib + `
local now = tonumber(ARGV[2])
local kind = ARGV[4]
local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local deleted, removed = 0, 0
for _, m in ipairs(ms) do
  local d, cid, gid = parse(m)
  local im = kind .. ':' .. d
  local k = record_key(im)
  local f
  if kind == 't' then
    f = redis.call('HMGET', k, 'client_id', 'grant_id', 'purge_at', 'refresh')
  else
    f = redis.call('HMGET', k, 'client_id', 'grant_id', 'exp')
  end
  local mine = f[1] == cid and f[2] == gid
  if mine and tonumber(f[3]) >= now then
    -- not expired: cannot happen (an entry's score is its record's
    -- expiry); keep both.
  else
    if mine then
      redis.call('DEL', k)
      if kind == 't' and f[4] ~= '' then
        local rk = P .. 'refresh:' .. f[4]
        if redis.call('GET', rk) == d then redis.call('DEL', rk) end
      end
      deleted = deleted + 1
    end
    -- The record is gone (deleted now, or by its TTL) or is another one
    -- stored since under the same digest: drop this entry's index
    -- entries, except from an index the other record is in.
    if f[1] ~= cid then redis.call('SREM', P .. 'issued:' .. cid, im) end
    if f[2] ~= gid then redis.call('SREM', P .. 'grant:' .. gid, im) end
    if mine then
      redis.call('SREM', P .. 'issued:' .. cid, im)
      redis.call('SREM', P .. 'grant:' .. gid, im)
    end
    redis.call('ZREM', KEYS[1], m)
    removed = removed + 1
  end
end
return {deleted, removed, #ms}
`)

// All are the scripts redisstore.New loads.
var All = []*redis.Script{
	CreateClient, DeleteClient, UpdateClient, SetSecrets, ListClients, RevokeClientTokens, CreateCode, ConsumeCode, DeleteCode,
	CreateToken, GetByRefresh, RevokeToken, RotateToken, RevokeGrant, Purge,
}
