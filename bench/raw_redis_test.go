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
	"github.com/oauthstore/oauthstore/internal/redislua"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/redisstore"
	"github.com/oauthstore/oauthstore/secret"
)

// BenchmarkConcurrency on Redis: redisstore on the server of
// OAUTHSTORE_TEST_REDIS_ADDR (db=redis), or on an embedded miniredis
// without it (db=miniredis), and impl=raw on the same *redis.Client (the
// same pool): redisstore's commands and its very scripts (package
// internal/redislua, which both use) with the arguments it computes, so
// that redisstore reads what raw writes. The client's pool is 64 connections:
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
	got, err := redislua.CreateToken.Run(ctx, r.rdb, []string{r.p + "access:" + args[1].(string)}, args...).Text()
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
	n, err := redislua.CreateCode.Run(ctx, r.rdb, []string{key}, args...).Int()
	if err != nil {
		return fmt.Errorf("storing a code: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("storing a code: taken")
	}
	res, err := redislua.ConsumeCode.Run(ctx, r.rdb, []string{key}, r.p, backendkit.CeilMillis(time.Now())).Slice()
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
	v, err := redislua.GetByRefresh.Run(ctx, r.rdb, []string{key}, r.p).Result()
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
	res, err := redislua.RotateToken.Run(ctx, r.rdb, []string{key}, args...).StringSlice()
	if err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	if len(res) == 0 || res[0] != "ok" {
		return fmt.Errorf("rotating: status %v", res)
	}
	return nil
}
