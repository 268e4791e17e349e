package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongoenv.CloseMongo()
	os.Exit(code)
}

// dumpStore is the test-only [conformance.RawDumper] around a store: it
// dumps every document of every collection of the store's database.
type dumpStore struct {
	*mongostore.Store
	db *mongo.Database
}

func (d dumpStore) DumpRaw(ctx context.Context) ([]byte, error) { return dumpDatabase(ctx, d.db) }

// dumpDatabase returns every document of every collection of db, each as
// raw BSON followed by its canonical extended JSON.
func dumpDatabase(ctx context.Context, db *mongo.Database) ([]byte, error) {
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			return nil, err
		}
		for cur.Next(ctx) {
			buf.Write(cur.Current)
			j, err := bson.MarshalExtJSON(cur.Current, true, false)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&buf, "\n%s: %s\n", name, j)
		}
		if err := cur.Err(); err != nil {
			return nil, err
		}
		_ = cur.Close(ctx)
	}
	return buf.Bytes(), nil
}

func newStore(t testing.TB, db *mongo.Database, clock func() time.Time, opts ...mongostore.Option) *mongostore.Store {
	t.Helper()
	opts = append([]mongostore.Option{mongostore.WithClock(clock), mongostore.WithHasher(secret.ForTests())}, opts...)
	s, err := mongostore.New(t.Context(), db, opts...)
	if err != nil {
		t.Fatalf("mongostore.New: %v", err)
	}
	return s
}

// t0 is the instant the tests' clocks start at.
var t0 = time.Date(2030, time.January, 2, 3, 4, 5, 6_000_000, time.UTC)

// clock is a settable clock, safe for concurrent reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestConsumeSingleWinner(t *testing.T) {
	const racers, codes = 32, 6
	db := mongoenv.FerretDB(t)
	clk := &clock{now: t0}
	// Four stores on one database stand for four server processes.
	stores := make([]*mongostore.Store, 4)
	for i := range stores {
		stores[i] = newStore(t, db, clk.Now)
	}
	ctx := t.Context()
	for n := range codes {
		code := fmt.Sprintf("race-code-%d-%s", n, strings.Repeat("x", 20))
		err := stores[0].CreateAuthorizationCode(ctx, &models.AuthorizationCode{
			Code: code, ClientID: "racer", AuthTime: t0, ExpiresIn: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			winners int
			others  []error
		)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := stores[i%len(stores)].ConsumeAuthorizationCode(ctx, code)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					winners++
					if got.ClientID != "racer" || got.Code != code {
						others = append(others, fmt.Errorf("winner got client %q", got.ClientID))
					}
					return
				}
				if !errors.Is(err, storage.ErrAlreadyUsed) {
					others = append(others, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if winners != 1 {
			t.Errorf("code %d: %d of %d concurrent consumers won, want exactly 1", n, winners, racers)
		}
		for _, err := range others {
			t.Errorf("code %d: loser got %v, want storage.ErrAlreadyUsed", n, err)
		}
		for i, s := range stores {
			if _, err := s.GetAuthorizationCode(ctx, code); !errors.Is(err, storage.ErrAlreadyUsed) {
				t.Errorf("code %d: GetAuthorizationCode through store %d after the race = %v, want storage.ErrAlreadyUsed", n, i, err)
			}
		}
	}
}

// Concurrent rotations of one refresh token through four stores on one
// database (four server processes): exactly one wins; without a reuse
// interval the losers are reuses, so the winner's pair ends up revoked too;
// within one it stays live. Nothing of a loser's pair is written.
func TestRotateSingleWinner(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint("interval=", interval), func(t *testing.T) {
			const racers, rounds = 24, 3
			db := mongoenv.FerretDB(t)
			clk := &clock{now: t0}
			stores := make([]*mongostore.Store, 4)
			for i := range stores {
				stores[i] = newStore(t, db, clk.Now, mongostore.WithReuseInterval(interval))
			}
			ctx := t.Context()
			pair := func(round, i int) *models.Token {
				return &models.Token{
					AccessToken:  fmt.Sprintf("race-access-%d-%d-%s", round, i, strings.Repeat("x", 20)),
					RefreshToken: fmt.Sprintf("race-refresh-%d-%d-%s", round, i, strings.Repeat("x", 20)),
					ClientID:     "racer", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour,
				}
			}
			for round := range rounds {
				old := pair(round, -1)
				must(t, stores[0].CreateToken(ctx, old))
				nexts := make([]*models.Token, racers)
				errs := make([]error, racers)
				for i := range nexts {
					nexts[i] = pair(round, i)
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						<-start
						errs[i] = stores[i%len(stores)].RotateToken(ctx, old.RefreshToken, nexts[i])
					})
				}
				close(start)
				wg.Wait()
				winners := 0
				for i, err := range errs {
					switch {
					case err == nil:
						winners++
						_, err := stores[1].GetTokenByRefresh(ctx, nexts[i].RefreshToken)
						if interval == 0 && !errors.Is(err, storage.ErrRevoked) {
							t.Errorf("round %d: the winner's refresh token after losers reused the old one = %v, want storage.ErrRevoked", round, err)
						}
						if interval > 0 && err != nil {
							t.Errorf("round %d: the winner's refresh token after losers within the reuse interval: %v", round, err)
						}
					case errors.Is(err, storage.ErrRevoked):
						if _, err := stores[2].GetTokenByAccess(ctx, nexts[i].AccessToken); !errors.Is(err, storage.ErrNotFound) {
							t.Errorf("round %d: a loser's access token = %v, want storage.ErrNotFound", round, err)
						}
					default:
						t.Errorf("round %d: loser got %v, want storage.ErrRevoked", round, err)
					}
				}
				if winners != 1 {
					t.Errorf("round %d: %d of %d concurrent rotations won, want exactly 1", round, winners, racers)
				}
				if _, err := stores[3].GetTokenByRefresh(ctx, old.RefreshToken); !errors.Is(err, storage.ErrRevoked) {
					t.Errorf("round %d: the rotated refresh token = %v, want storage.ErrRevoked", round, err)
				}
				if n := count(t, db, "tokens"); n != int64(2*(round+1)) {
					t.Errorf("round %d: %d token documents, want %d (each round's old pair and its winner's)", round, n, 2*(round+1))
				}
			}
		})
	}
}

func TestNoPlaintextInDatabase(t *testing.T) {
	db := mongoenv.FerretDB(t)
	clk := &clock{now: t0}
	s := newStore(t, db, clk.Now)
	ctx := t.Context()

	var secrets []string
	sec := func(kind string) string {
		v := kind + "-PLAINTEXT-" + fmt.Sprint(len(secrets)) + "-9f8e7d6c5b4a"
		secrets = append(secrets, v)
		return v
	}
	for i := range 3 {
		id := fmt.Sprintf("client-%d", i)
		must(t, s.CreateClient(ctx, &models.Client{ClientID: id, ClientSecret: sec("secret"), RedirectURIs: []string{"https://app.example/cb"}}))
		code := sec("code")
		must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: code, ClientID: id, AuthTime: t0, ExpiresIn: time.Minute}))
		if i%2 == 0 {
			_, err := s.ConsumeAuthorizationCode(ctx, code)
			must(t, err)
		}
		access, refresh := sec("access"), sec("refresh")
		must(t, s.CreateToken(ctx, &models.Token{AccessToken: access, RefreshToken: refresh, ClientID: id, IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour}))
		must(t, s.CreateToken(ctx, &models.Token{AccessToken: sec("access"), ClientID: id, IssuedAt: t0, ExpiresIn: time.Hour}))
		must(t, s.RevokeToken(ctx, refresh))
		_, err := s.AuthenticateClient(ctx, id, secrets[len(secrets)-5])
		must(t, err)
		// A rotation, its reuse, and a grant revoked.
		old := &models.Token{AccessToken: sec("access"), RefreshToken: sec("refresh"), ClientID: id, IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour}
		must(t, s.CreateToken(ctx, old))
		must(t, s.RotateToken(ctx, old.RefreshToken, &models.Token{AccessToken: sec("access"), RefreshToken: sec("refresh"), ClientID: id, IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour}))
		err = s.RotateToken(ctx, old.RefreshToken, &models.Token{AccessToken: sec("access"), RefreshToken: sec("refresh"), ClientID: id, IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: 24 * time.Hour})
		if !errors.Is(err, storage.ErrRevoked) {
			t.Fatalf("reuse of a rotated refresh token = %v, want storage.ErrRevoked", err)
		}
		grant := sec("code")
		must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: grant, ClientID: id, AuthTime: t0, ExpiresIn: time.Minute, GrantID: "grant-" + id}))
		must(t, s.RevokeGrant(ctx, "grant-"+id))
	}
	must(t, s.DeleteClient(ctx, "client-1"))

	dump, err := dumpDatabase(ctx, db)
	must(t, err)
	for _, v := range secrets {
		if bytes.Contains(dump, []byte(v)) {
			kind, _, _ := strings.Cut(v, "-")
			t.Errorf("the database holds a plaintext %s", kind)
		}
	}
	// The dump is not vacuous: the digests of what is kept are in it.
	for _, v := range []string{secrets[1], secrets[2], secrets[3], secrets[4]} { // client-0's code and tokens
		if !bytes.Contains(dump, []byte(secret.Digest(v))) {
			t.Errorf("the dump lacks the digest of a stored credential: it does not show the documents")
		}
	}
	if !bytes.Contains(dump, []byte("$2a$")) {
		t.Errorf("the dump lacks a bcrypt hash of a client secret")
	}
	// client-0's rotation marker: named by the rotated refresh token's
	// digest, holding the new access token's.
	if !bytes.Contains(dump, []byte(mongostore.DefaultCollectionPrefix+"rotations: ")) ||
		!bytes.Contains(dump, []byte(secret.Digest(secrets[6]))) || !bytes.Contains(dump, []byte(secret.Digest(secrets[7]))) {
		t.Errorf("the dump lacks the rotation marker")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type indexInfo struct {
	Name               string `bson:"name"`
	Key                bson.D `bson:"key"`
	Unique             bool   `bson:"unique"`
	ExpireAfterSeconds *int64 `bson:"expireAfterSeconds"`
}

func listIndexes(t testing.TB, c *mongo.Collection) map[string]indexInfo {
	t.Helper()
	cur, err := c.Indexes().List(t.Context())
	must(t, err)
	var all []indexInfo
	must(t, cur.All(t.Context(), &all))
	out := make(map[string]indexInfo)
	for _, ix := range all {
		var keys []string
		for _, k := range ix.Key {
			keys = append(keys, k.Key)
		}
		out[strings.Join(keys, ",")] = ix
	}
	return out
}

// checkIndexes asserts the indexes of the store's five collections; ttl
// says whether the expiry indexes must be TTL indexes.
func checkIndexes(t *testing.T, db *mongo.Database, prefix string, ttl bool) {
	t.Helper()
	want := map[string][]struct {
		key    string
		unique bool
		expiry bool
	}{
		"clients":   {{"_id", true, false}, {"user_id,_id", false, false}},
		"codes":     {{"_id", true, false}, {"client_id", false, false}, {"grant_id", false, false}, {"expires_at", false, true}},
		"code_uses": {{"_id", true, false}, {"code", false, false}, {"client_id", false, false}, {"expires_at", false, true}},
		"tokens":    {{"_id", true, false}, {"refresh", true, false}, {"client_id", false, false}, {"grant_id", false, false}, {"purge_at", false, true}},
		"rotations": {{"_id", true, false}, {"client_id", false, false}, {"expires_at", false, true}},
	}
	for coll, ixs := range want {
		got := listIndexes(t, db.Collection(prefix+coll))
		for _, w := range ixs {
			ix, ok := got[w.key]
			if !ok {
				t.Errorf("%s: no index on %s (have %v)", coll, w.key, got)
				continue
			}
			// The _id index is unique without saying so.
			if w.key != "_id" && ix.Unique != w.unique {
				t.Errorf("%s: index on %s unique = %v, want %v", coll, w.key, ix.Unique, w.unique)
			}
			if w.expiry && ttl != (ix.ExpireAfterSeconds != nil) {
				t.Errorf("%s: index on %s is TTL = %v, want %v", coll, w.key, ix.ExpireAfterSeconds != nil, ttl)
			}
		}
		if len(got) != len(ixs) {
			t.Errorf("%s: %d indexes, want %d: %v", coll, len(got), len(ixs), got)
		}
	}
}

func TestIndexesFerretDB(t *testing.T) {
	db := mongoenv.FerretDB(t)
	clk := &clock{now: t0}
	var reported []error
	s := newStore(t, db, clk.Now, mongostore.WithTTLUnsupported(func(err error) { reported = append(reported, err) }))
	checkIndexes(t, db, mongostore.DefaultCollectionPrefix, false)

	// FerretDB refuses TTL indexes, and the store says so, once.
	if s.TTLEnabled() {
		t.Error("TTLEnabled() = true on FerretDB, which has no TTL indexes")
	}
	if len(reported) != 1 {
		t.Fatalf("WithTTLUnsupported function called %d times, want 1", len(reported))
	}
	var se mongo.ServerError
	if !errors.As(reported[0], &se) || !se.HasErrorCode(238) {
		t.Errorf("reported error %v, want the server's NotImplemented (238)", reported[0])
	}

	// PurgeExpired still deletes what has expired, and only that.
	ctx := t.Context()
	must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "code-short-lived-123456", ClientID: "c", AuthTime: t0, ExpiresIn: time.Minute}))
	must(t, s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "code-long-lived-1234567", ClientID: "c", AuthTime: t0, ExpiresIn: time.Hour}))
	_, err := s.ConsumeAuthorizationCode(ctx, "code-short-lived-123456")
	must(t, err)
	must(t, s.CreateToken(ctx, &models.Token{AccessToken: "access-short-lived-1234", ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute}))
	must(t, s.CreateToken(ctx, &models.Token{AccessToken: "access-with-refresh-123", RefreshToken: "refresh-long-lived-1234", ClientID: "c", IssuedAt: t0, ExpiresIn: time.Minute, RefreshTokenExpiresIn: time.Hour}))
	clk.Add(time.Minute)
	if n, err := s.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("PurgeExpired at the expiry instant = %d, %v; want 0, nil", n, err)
	}
	clk.Add(time.Millisecond / 2) // after expiry, within the same millisecond
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 2 {
		t.Fatalf("PurgeExpired after expiry = %d, %v; want 2 (one code, one token), nil", n, err)
	}
	if _, err := s.GetAuthorizationCode(ctx, "code-short-lived-123456"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("purged code: %v, want storage.ErrNotFound", err)
	}
	if c, err := db.Collection(mongostore.DefaultCollectionPrefix+"code_uses").CountDocuments(ctx, bson.D{}); err != nil || c != 0 {
		t.Errorf("used-markers left after purge: %d, %v; want 0", c, err)
	}
	if _, err := s.GetAuthorizationCode(ctx, "code-long-lived-1234567"); err != nil {
		t.Errorf("unexpired code after purge: %v", err)
	}
	if _, err := s.GetTokenByRefresh(ctx, "refresh-long-lived-1234"); err != nil {
		t.Errorf("token with a live refresh token after purge: %v", err)
	}
}

func TestIndexesMongoDB(t *testing.T) {
	db := mongoenv.MongoDB(t)
	clk := &clock{now: t0}
	s := newStore(t, db, clk.Now, mongostore.WithTTLUnsupported(func(err error) { t.Errorf("MongoDB refused TTL indexes: %v", err) }))
	if !s.TTLEnabled() {
		t.Error("TTLEnabled() = false on MongoDB")
	}
	checkIndexes(t, db, mongostore.DefaultCollectionPrefix, true)
	// Another grace period changes the TTL indexes in place.
	s2 := newStore(t, db, clk.Now, mongostore.WithTTLGrace(90*time.Second))
	if !s2.TTLEnabled() {
		t.Error("TTLEnabled() = false on MongoDB after changing the grace period")
	}
	for _, coll := range []string{"codes", "code_uses", "tokens", "rotations"} {
		for key, ix := range listIndexes(t, db.Collection(mongostore.DefaultCollectionPrefix+coll)) {
			if ix.ExpireAfterSeconds != nil && *ix.ExpireAfterSeconds != 90 {
				t.Errorf("%s: TTL index on %s expires after %ds, want 90", coll, key, *ix.ExpireAfterSeconds)
			}
		}
	}
}

func TestNewIdempotent(t *testing.T) {
	db := mongoenv.FerretDB(t)
	clk := &clock{now: t0}
	ctx := t.Context()
	first := newStore(t, db, clk.Now)
	must(t, first.CreateClient(ctx, &models.Client{ClientID: "kept", ClientSecret: "s3cret-value"}))
	before := make(map[string]map[string]indexInfo)
	for _, c := range []string{"clients", "codes", "code_uses", "tokens", "rotations"} {
		before[c] = listIndexes(t, db.Collection(mongostore.DefaultCollectionPrefix+c))
	}
	second := newStore(t, db, clk.Now)
	for c, want := range before {
		got := listIndexes(t, db.Collection(mongostore.DefaultCollectionPrefix+c))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: indexes after the second New = %v, want %v", c, got, want)
		}
	}
	if _, err := second.AuthenticateClient(ctx, "kept", "s3cret-value"); err != nil {
		t.Errorf("client written before the second New: %v", err)
	}

	// Another prefix is another, empty, store in the same database.
	other := newStore(t, db, clk.Now, mongostore.WithCollectionPrefix("other_"))
	if _, err := other.GetClient(ctx, "kept"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient through another prefix = %v, want storage.ErrNotFound", err)
	}
	checkIndexes(t, db, "other_", false)
}

func TestNewErrors(t *testing.T) {
	db := mongoenv.FerretDB(t)
	if _, err := mongostore.New(t.Context(), db, mongostore.WithTTLGrace(-time.Second)); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("New with a negative grace period = %v, want storage.ErrInvalid", err)
	}
	for _, prefix := range []string{"a$b", "a b", "a\x00b", "system.x", strings.Repeat("p", mongostore.MaxCollectionPrefixLen+1)} {
		if _, err := mongostore.New(t.Context(), db, mongostore.WithCollectionPrefix(prefix)); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("New with the collection prefix %q = %v, want storage.ErrInvalid", prefix, err)
		}
	}
	for _, n := range []int{0, -1} {
		if _, err := mongostore.New(t.Context(), db, mongostore.WithPurgeBatchSize(n)); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("New with a purge batch size of %d = %v, want storage.ErrInvalid", n, err)
		}
	}
	if _, err := mongostore.New(t.Context(), nil); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("New with a nil database = %v, want storage.ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := mongostore.New(ctx, db); !errors.Is(err, context.Canceled) {
		t.Errorf("New with a cancelled context = %v, want context.Canceled", err)
	}
	if names, err := db.ListCollectionNames(t.Context(), bson.D{}); err != nil || len(names) != 0 {
		t.Errorf("failed New calls created collections %v (%v)", names, err)
	}
}

func TestTokensWithoutRefreshDoNotCollide(t *testing.T) {
	db := mongoenv.FerretDB(t)
	clk := &clock{now: t0}
	s := newStore(t, db, clk.Now)
	ctx := t.Context()
	for i := range 5 {
		must(t, s.CreateToken(ctx, &models.Token{AccessToken: fmt.Sprintf("access-no-refresh-%d", i), ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour}))
	}
	must(t, s.CreateToken(ctx, &models.Token{AccessToken: "access-with-refresh", RefreshToken: "refresh-1", ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour}))
	err := s.CreateToken(ctx, &models.Token{AccessToken: "access-new", RefreshToken: "refresh-1", ClientID: "c", IssuedAt: t0, ExpiresIn: time.Hour, RefreshTokenExpiresIn: time.Hour})
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("token with a taken refresh token: %v, want storage.ErrAlreadyExists", err)
	}
	if _, err := s.GetTokenByAccess(ctx, "access-new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("rejected token was written: GetTokenByAccess = %v, want storage.ErrNotFound", err)
	}
	if _, err := s.GetTokenByRefresh(ctx, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetTokenByRefresh(\"\") = %v, want storage.ErrNotFound", err)
	}
}
