package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/oauthstore/oauthstore/backendkit"
	"github.com/oauthstore/oauthstore/storage"
)

// statsChunk is how many records [Store.Stats] reads per round trip.
const statsChunk = 500

// Stats implements [storage.StatsReporter]. It reads every code and token
// pair the expiry indexes list, a chunk at a time (a pipeline of HGETALL),
// so on a busy store its counts mix instants; it is meant for operators,
// not for request paths.
func (s *Store) Stats(ctx context.Context) (*storage.Stats, error) {
	const op = "redisstore: stats"
	if err := backendkit.CtxErr(ctx, op); err != nil {
		return nil, err
	}
	now := s.now()
	n, err := s.rdb.ZCard(ctx, s.k.clients()).Result()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var tally backendkit.Tally
	for _, idx := range []struct {
		key  string
		code bool
	}{{s.k.codeExpiry(), true}, {s.k.tokenExpiry(), false}} {
		for start := int64(0); ; start += statsChunk {
			if err := backendkit.CtxErr(ctx, op); err != nil {
				return nil, err
			}
			members, err := s.rdb.ZRange(ctx, idx.key, start, start+statsChunk-1).Result()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			if len(members) == 0 {
				break
			}
			pipe := s.rdb.Pipeline()
			cmds := make([]*redis.MapStringStringCmd, len(members))
			for i, m := range members {
				d, _, _, ok := parseExpiryMember(m)
				if !ok {
					return nil, fmt.Errorf("%s: %w: expiry index entry", op, errCorrupt)
				}
				if idx.code {
					cmds[i] = pipe.HGetAll(ctx, s.k.code(d))
				} else {
					cmds[i] = pipe.HGetAll(ctx, s.k.access(d))
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			for i, m := range members {
				rec := cmds[i].Val()
				_, clientID, grantID, _ := parseExpiryMember(m)
				if rec[fClientID] != clientID || rec[fGrantID] != grantID {
					continue // deleted by its TTL, not purged yet (or stored again since: its own entry counts it)
				}
				if idx.code {
					c, used, err := decodeCode(rec)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", op, err)
					}
					backendkit.CountCode(tally.Of(clientID), &c, used, now)
				} else {
					t, err := decodeToken(rec)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", op, err)
					}
					backendkit.CountToken(tally.Of(clientID), &t, now)
				}
			}
			if len(members) < statsChunk {
				break
			}
		}
	}
	return tally.Stats(n), nil
}

// parseExpiryMember splits what [expiryMember] joined.
func parseExpiryMember(m string) (digest, clientID, grantID string, ok bool) {
	if len(m) < 66 || m[64] != ' ' {
		return "", "", "", false
	}
	rest := m[65:]
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 {
		return "", "", "", false
	}
	n, err := strconv.Atoi(rest[:sp])
	if err != nil || n < 0 || sp+1+n > len(rest) {
		return "", "", "", false
	}
	return m[:64], rest[sp+1 : sp+1+n], rest[sp+1+n:], true
}
