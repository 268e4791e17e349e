package backendkit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

func TestOptions(t *testing.T) {
	var o Options
	if o.Clock() == nil || o.Hasher() == nil || o.ReuseInterval() != 0 || o.Credentials().Keyed() || o.Credentials().MinLength() != 0 {
		t.Fatal("the zero Options are not the defaults")
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := secret.ForTests()
	o.SetClock(func() time.Time { return at })
	o.SetHasher(h)
	o.SetClock(nil) // nil keeps what is set
	o.SetHasher(nil)
	if !o.Clock()().Equal(at) || o.Hasher() != h || o.ClientAuth().Hasher() != h {
		t.Fatal("a nil clock or hasher replaced the one set")
	}
	o.SetReuseInterval(-time.Second)
	o.SetMinCredentialLength(-3)
	if o.ReuseInterval() != 0 || o.Credentials().MinLength() != 0 {
		t.Fatalf("negative values: reuse %v, min length %d; want 0, 0", o.ReuseInterval(), o.Credentials().MinLength())
	}
	keys, err := secret.NewKeyed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	o.SetDigestKeys(keys)
	o.SetMinCredentialLength(16)
	o.SetReuseInterval(time.Minute)
	if c := o.Credentials(); !c.Keyed() || c.MinLength() != 16 || o.ReuseInterval() != time.Minute {
		t.Fatal("the keys, the minimum length or the reuse interval set were lost")
	}
}

func TestStartListCursor(t *testing.T) {
	ctx := context.Background()
	for _, after := range []string{"a\xffb", "a\x00", strings.Repeat("a", storage.MaxIDLen+1)} {
		_, err := StartList(ctx, "x: list clients", storage.ClientQuery{After: after})
		if !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("StartList after %+.20q: %v, want ErrInvalid", after, err)
		} else if strings.Contains(err.Error(), after) {
			t.Errorf("the error names the cursor: %v", err)
		}
	}
	for _, after := range []string{"", "a\x01", strings.Repeat("é", storage.MaxIDLen/2)} {
		if n, err := StartList(ctx, "x: list clients", storage.ClientQuery{After: after}); err != nil || n != storage.DefaultListLimit {
			t.Errorf("StartList after %+.20q = %d, %v; want %d, nil", after, n, err, storage.DefaultListLimit)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := StartList(done, "x: list clients", storage.ClientQuery{After: "a\xff"}); !errors.Is(err, context.Canceled) {
		t.Errorf("StartList on a done context: %v, want context.Canceled first", err)
	}
}

func TestStartByIDAndClientWritten(t *testing.T) {
	ctx := context.Background()
	if err := StartByID(ctx, "x: op", "client-1"); err != nil {
		t.Errorf("StartByID of a valid ID: %v", err)
	}
	for _, id := range []string{"", "a\x00", "\xff"} {
		if err := StartByID(ctx, "x: op", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("StartByID(%+q): %v, want ErrNotFound", id, err)
		}
	}
	failed := errors.New("connection reset")
	for _, c := range []struct {
		matched int64
		err     error
		want    error
	}{{1, nil, nil}, {0, nil, storage.ErrNotFound}, {0, failed, failed}} {
		got := ClientWritten("x: op", "c", c.matched, c.err)
		if (c.want == nil) != (got == nil) || (c.want != nil && !errors.Is(got, c.want)) {
			t.Errorf("ClientWritten(%d, %v) = %v, want %v", c.matched, c.err, got, c.want)
		}
	}
}

func TestSecretsOfAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	a := NewClientAuth(secret.ForTests())
	n := models.Client{ClientID: "c", ClientSecret: "s3cret-value"}
	s, err := a.SecretsOf(ctx, "x: create client", &n)
	if err != nil || s.Hash == "" || n.ClientSecret != "" {
		t.Fatalf("SecretsOf = %+v, %v, secret left %q: want a hash and the secret cleared", s, err, n.ClientSecret)
	}
	public := models.Client{ClientID: "p"}
	if s, err := a.SecretsOf(ctx, "x: create client", &public); err != nil || s != (Secrets{}) {
		t.Fatalf("SecretsOf of a public client = %+v, %v", s, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.SecretsOf(done, "x: create client", &models.Client{ClientID: "c", ClientSecret: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("SecretsOf on a done context: %v", err)
	}

	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	stored := &models.Client{ClientID: "c"}
	read := func(found bool, err error) ClientReader {
		return func(now time.Time) (*models.Client, Secrets, bool, error) {
			if !now.Equal(at) {
				t.Errorf("read at %v, want the clock's %v", now, at)
			}
			return stored, s, found, err
		}
	}
	if c, err := a.Authenticate(ctx, "x: auth", "c", "s3cret-value", clock, read(true, nil)); err != nil || c != stored {
		t.Errorf("Authenticate with the secret = %v, %v", c, err)
	}
	if _, err := a.Authenticate(ctx, "x: auth", "c", "wrong", clock, read(true, nil)); !errors.Is(err, storage.ErrInvalidSecret) {
		t.Errorf("Authenticate with a wrong secret: %v", err)
	}
	if _, err := a.Authenticate(ctx, "x: auth", "c", "s3cret-value", clock, read(false, nil)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Authenticate of an unknown client: %v", err)
	}
	failed := errors.New("read failed")
	if _, err := a.Authenticate(ctx, "x: auth", "c", "s3cret-value", clock, read(true, failed)); !errors.Is(err, failed) {
		t.Errorf("Authenticate when the read fails: %v", err)
	}
	if _, err := a.Authenticate(done, "x: auth", "c", "s3cret-value", clock, read(true, nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate on a done context: %v", err)
	}
}

func TestTally(t *testing.T) {
	var tally Tally
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	code := &models.AuthorizationCode{AuthTime: now, ExpiresIn: time.Minute}
	CountCode(tally.Of("b"), code, false, now)
	CountCode(tally.Of("a"), code, true, now)
	CountCode(tally.Of("b"), code, true, now)
	st := tally.Stats(5)
	if st.Clients != 5 || len(st.ByClient) != 2 || st.ByClient[0].ClientID != "a" || st.ByClient[1].ClientID != "b" {
		t.Fatalf("Stats = %+v: want 5 clients and a, b in order", st)
	}
	if st.Total.UsedCodes != 2 || st.Total.LiveCodes != 1 || st.ByClient[1].LiveCodes != 1 {
		t.Fatalf("Stats totals = %+v", st.Total)
	}
	var empty Tally
	if st := empty.Stats(0); len(st.ByClient) != 0 || st.Total != (storage.RecordCounts{}) {
		t.Fatalf("empty Stats = %+v", st)
	}
}

func TestStartRotate(t *testing.T) {
	ctx := context.Background()
	c := NewCredentials(nil, 8)
	next := &models.Token{AccessToken: "access-token-1", ClientID: "c", IssuedAt: time.Now(), ExpiresIn: time.Hour}
	if _, err := c.StartRotate(ctx, "x: rotate token", "", next); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StartRotate of an empty refresh token: %v, want ErrNotFound", err)
	}
	short := *next
	short.AccessToken = "short"
	if _, err := c.StartRotate(ctx, "x: rotate token", "", &short); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("StartRotate to a pair below the minimum length: %v, want ErrInvalid before ErrNotFound", err)
	}
	if n, err := c.StartRotate(ctx, "x: rotate token", "refresh-token-1", next); err != nil || n.AccessToken != next.AccessToken {
		t.Errorf("StartRotate = %+v, %v", n, err)
	}
}
