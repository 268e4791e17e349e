package decoratetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/secret"
	"github.com/oauthstore/oauthstore/storage"
)

// Dumper is a memstore with the conformance test hooks: DumpRaw and
// CredentialDigest. memstore's own dump reads its unexported maps, so this
// one lists the clients through ListClients and records what a store
// keeping digests persists of every code and token created through it.
// Its digests are upper-case hex, not [secret.Digest]: the conformance
// suite finds them only through CredentialDigest, so a decorator that hid
// the method fails the suite's Secrets/RawDump case.
type Dumper struct {
	*memstore.Store

	mu  sync.Mutex
	buf bytes.Buffer
}

// NewMemstore returns a memstore with clock and a fast hasher, wrapped in
// a [Dumper]. Extra options follow.
func NewMemstore(clock func() time.Time, opts ...memstore.Option) *Dumper {
	opts = append([]memstore.Option{memstore.WithClock(clock), memstore.WithHasher(secret.ForTests())}, opts...)
	return &Dumper{Store: memstore.New(opts...)}
}

// CredentialDigest returns the upper-case hex SHA-256 of credential.
func (d *Dumper) CredentialDigest(credential string) string {
	return strings.ToUpper(secret.Digest(credential))
}

func (d *Dumper) record(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(&d.buf, format+"\n", args...)
}

func (d *Dumper) recordToken(t *models.Token) {
	refresh := ""
	if t.RefreshToken != "" {
		refresh = d.CredentialDigest(t.RefreshToken)
	}
	d.record("token access=%s refresh=%s client=%q", d.CredentialDigest(t.AccessToken), refresh, t.ClientID)
}

// CreateAuthorizationCode creates the code and records its digest.
func (d *Dumper) CreateAuthorizationCode(ctx context.Context, c *models.AuthorizationCode) error {
	err := d.Store.CreateAuthorizationCode(ctx, c)
	if err == nil {
		d.record("code %s client=%q", d.CredentialDigest(c.Code), c.ClientID)
	}
	return err
}

// CreateToken creates the token and records its digests.
func (d *Dumper) CreateToken(ctx context.Context, t *models.Token) error {
	err := d.Store.CreateToken(ctx, t)
	if err == nil {
		d.recordToken(t)
	}
	return err
}

// RotateToken rotates the token and records the digests of next.
func (d *Dumper) RotateToken(ctx context.Context, refreshToken string, next *models.Token) error {
	err := d.Store.RotateToken(ctx, refreshToken, next)
	if err == nil {
		d.recordToken(next)
	}
	return err
}

// DumpRaw returns every client as ListClients reads it, secret hash
// included, then the records of the codes and tokens created.
func (d *Dumper) DumpRaw(ctx context.Context) ([]byte, error) {
	var b bytes.Buffer
	q := storage.ClientQuery{Limit: storage.MaxListLimit}
	for {
		page, err := d.ListClients(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, c := range page.Clients {
			fmt.Fprintf(&b, "client %q hash=%q %q %q %q user=%q\n", c.ClientID, c.SecretHash, c.GrantTypes, c.RedirectURIs, c.Scope, c.UserID)
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	d.mu.Lock()
	b.Write(d.buf.Bytes())
	d.mu.Unlock()
	return b.Bytes(), nil
}
