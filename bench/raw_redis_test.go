package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
)

// BenchmarkConcurrency on Redis: redisstore on the server of
// OAUTHSTORE_TEST_REDIS_ADDR (db=redis), or on an embedded miniredis
// without it (db=miniredis), and impl=raw on the same *redis.Client (the
// same pool): redisstore's commands and scripts (copied verbatim from
// redisstore/scripts.go) with the arguments it computes, so that
// redisstore reads what raw writes. The client's pool is 64 connections:
// go-redis takes one connection per command in flight, and callers beyond
// the pool wait for one (the default, 10 per CPU, is 20 on 2 cores).

// redisConcPool is the PoolSize of the BenchmarkConcurrency fixture.
const redisConcPool = 64

// redisConcTarget is the Redis backend of BenchmarkConcurrency.
func redisConcTarget() *concTarget {
	db := "miniredis"
	if os.Getenv("OAUTHSTORE_TEST_REDIS_ADDR") != "" {
		db = "redis"
	}
	return &concTarget{db: db, impls: []string{"redisstore", "raw"}, fixture: redisConcFixture}
}

// redisConcFixture is redisstore under a key prefix of its own, holding
// small tokens, and raw on its client; the keys are deleted at the end of
// the binary.
func redisConcFixture(tb testing.TB) *concFixture {
	return once(tb, "conc/redisstore", func(t testing.TB) *concFixture {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr(t), PoolSize: redisConcPool})
		prefix := fmt.Sprintf("bench-conc-%d", time.Now().UnixNano())
		t.Cleanup(func() {
			deleteRedisPrefix(rdb, prefix)
			_ = rdb.Close()
		})
		s, err := redisstore.New(context.Background(), rdb, redisstore.WithKeyPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		o := ours{s}
		f := newFixture(t, o, small)
		raw := &rawRedis{rdb: rdb, p: s.KeyPrefix(), grace: redisstore.DefaultTTLGrace.Milliseconds()}
		cf := &concFixture{store: o, sample: f.sample, release: s.DeleteClient,
			impls: map[string]*concImpl{"redisstore": oursConc(o), "raw": raw.impl()}}
		if err := warmUp(context.Background(), cf); err != nil {
			t.Fatal(err)
		}
		return cf
	})
}

// deleteRedisPrefix deletes every key under prefix's hash tag.
func deleteRedisPrefix(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "{"+prefix+"}*", 1000).Result()
		if err != nil {
			return
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// rawRedisLib is redisstore's luaLib, the helpers its scripts share.
const rawRedisLib = `
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

// redisstore's scripts that raw runs, verbatim.
var (
	rawRedisCreateToken = redis.NewScript(rawRedisLib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'access' end
if ARGV[3] ~= '' and redis.call('EXISTS', P .. 'refresh:' .. ARGV[3]) == 1 then return 'refresh' end
insert_token(ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], {unpack(ARGV, 9)})
return 'ok'
`)
	rawRedisCreateCode = redis.NewScript(rawRedisLib + `
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
	rawRedisConsumeCode = redis.NewScript(rawRedisLib + `
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
	rawRedisGetByRefresh = redis.NewScript(rawRedisLib + `
local a = redis.call('GET', KEYS[1])
if not a then return {} end
return redis.call('HGETALL', P .. 'access:' .. a)
`)
	rawRedisRotateToken = redis.NewScript(rawRedisLib + `
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
)

// rawRedis runs redisstore's commands on its client: p is the store's key
// prefix with its hash tag ("{prefix}:"), grace its TTL grace in ms.
type rawRedis struct {
	rdb   *redis.Client
	p     string
	grace int64
}

// impl returns the concImpl of r.
func (r *rawRedis) impl() *concImpl {
	return &concImpl{lookup: r.lookup, create: r.create, exchange: r.exchange, rotate: r.rotate}
}

// redisMS writes unix milliseconds as redisstore does.
func redisMS(v int64) string { return strconv.FormatInt(v, 10) }

// ttl is redisstore's TTL of a record expiring at expMS written at now.
func (r *rawRedis) ttl(expMS int64, now time.Time) int64 {
	return max(max(expMS-backendkit.CeilMillis(now), 0)+r.grace, 1)
}

// lookup is GetTokenByAccess: one HGETALL, judged here.
func (r *rawRedis) lookup(ctx context.Context, access string) (string, error) {
	m, err := r.rdb.HGetAll(ctx, r.p+"access:"+secret.Digest(access)).Result()
	if err != nil {
		return "", err
	}
	if len(m) == 0 {
		return "", errMiss
	}
	exp, err := strconv.ParseInt(m["exp"], 10, 64)
	if err != nil {
		return "", fmt.Errorf("token of client %q: bad exp", m["client_id"])
	}
	if m["revoked"] == "1" || time.Now().After(time.UnixMilli(exp)) {
		return "", fmt.Errorf("token of client %q not live", m["client_id"])
	}
	return m["client_id"], nil
}

// insertArgs are redisstore's arguments of insert_token for the pair t
// in grant grantID, written at now: access digest, refresh digest, expiry
// member, purge instant, ttl, grant ID, client ID, fields.
func (r *rawRedis) insertArgs(t *tokenIn, grantID string, now time.Time) []any {
	a, rd := secret.Digest(t.access), secret.Digest(t.refresh)
	iss := issued.UnixMilli()
	exp, rexp := issued.Add(accessTTL).UnixMilli(), issued.Add(refreshTTL).UnixMilli()
	purgeAt := max(exp, rexp)
	return []any{a, rd, a + " " + strconv.Itoa(len(t.clientID)) + " " + t.clientID + grantID, purgeAt, r.ttl(purgeAt, now), grantID, t.clientID,
		"refresh", rd,
		"client_id", t.clientID,
		"grant_id", grantID,
		"scope", scope,
		"token_type", models.DefaultTokenType,
		"user_id", t.userID,
		"issued_at", redisMS(iss),
		"expires_in", redisMS(accessTTL.Milliseconds()),
		"exp", redisMS(exp),
		"refresh_expires_in", redisMS(refreshTTL.Milliseconds()),
		"refresh_exp", redisMS(rexp),
		"purge_at", redisMS(purgeAt),
		"revoked", "0",
	}
}

// create is CreateToken: the createToken script.
func (r *rawRedis) create(ctx context.Context, t *tokenIn) error {
	args := append([]any{r.p}, r.insertArgs(t, backendkit.NewGrantID(), time.Now())...)
	got, err := rawRedisCreateToken.Run(ctx, r.rdb, []string{r.p + "access:" + args[1].(string)}, args...).Text()
	if err != nil {
		return err
	}
	if got != "ok" {
		return fmt.Errorf("createToken: %s", got)
	}
	return nil
}

// exchange is CreateAuthorizationCode (the createCode script) and
// ConsumeAuthorizationCode (the consumeCode script).
func (r *rawRedis) exchange(ctx context.Context, c *codeIn) error {
	d := secret.Digest(c.code)
	grantID := backendkit.NewGrantID()
	exp := issued.Add(codeTTL).UnixMilli()
	args := []any{r.p, d, d + " " + strconv.Itoa(len(c.clientID)) + " " + c.clientID + grantID, exp,
		r.ttl(exp, time.Now()), grantID, c.clientID,
		"client_id", c.clientID,
		"grant_id", grantID,
		"redirect_uri", redirect,
		"response_type", "code",
		"scope", scope,
		"auth_time", redisMS(issued.UnixMilli()),
		"expires_in", redisMS(codeTTL.Milliseconds()),
		"exp", redisMS(exp),
		"code_challenge", challenge,
		"code_challenge_method", string(models.CodeChallengeS256),
		"nonce", "",
		"user_id", c.userID,
		"used", "0",
	}
	key := r.p + "code:" + d
	n, err := rawRedisCreateCode.Run(ctx, r.rdb, []string{key}, args...).Int()
	if err != nil {
		return fmt.Errorf("storing a code: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("storing a code: taken")
	}
	res, err := rawRedisConsumeCode.Run(ctx, r.rdb, []string{key}, r.p, backendkit.CeilMillis(time.Now())).Slice()
	if err != nil {
		return fmt.Errorf("consuming a code: %w", err)
	}
	if len(res) != 2 || res[0] != "ok" {
		return fmt.Errorf("consuming a code: status %v", res[0])
	}
	m, err := redisPairs(res[1])
	if err != nil {
		return err
	}
	if m["client_id"] != c.clientID {
		return fmt.Errorf("consumed code of client %q, want %q", m["client_id"], c.clientID)
	}
	return nil
}

// redisPairs reads a script's HGETALL reply, a flat list of fields and
// values.
func redisPairs(v any) (map[string]string, error) {
	l, ok := v.([]any)
	if !ok || len(l)%2 != 0 {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	m := make(map[string]string, len(l)/2)
	for i := 0; i < len(l); i += 2 {
		k, _ := l[i].(string)
		m[k], _ = l[i+1].(string)
	}
	return m, nil
}

// rotate is RotateToken: the getByRefresh script reads the old pair, and
// the rotateToken script, given its client and grant as read, revokes it
// and stores next in its grant.
func (r *rawRedis) rotate(ctx context.Context, old, next *tokenIn) error {
	d := secret.Digest(old.refresh)
	key := r.p + "refresh:" + d
	v, err := rawRedisGetByRefresh.Run(ctx, r.rdb, []string{key}, r.p).Result()
	if err != nil {
		return fmt.Errorf("reading the old pair: %w", err)
	}
	m, err := redisPairs(v)
	if err != nil {
		return err
	}
	if m["client_id"] != next.clientID {
		return fmt.Errorf("old pair of client %q, want %q", m["client_id"], next.clientID)
	}
	now := time.Now()
	args := []any{r.p, backendkit.CeilMillis(now), backendkit.Truncate(now).UnixMilli(), "", m["client_id"], m["grant_id"], "1"}
	args = append(args, r.insertArgs(next, m["grant_id"], now)...)
	res, err := rawRedisRotateToken.Run(ctx, r.rdb, []string{key}, args...).StringSlice()
	if err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	if len(res) == 0 || res[0] != "ok" {
		return fmt.Errorf("rotating: status %v", res)
	}
	return nil
}
