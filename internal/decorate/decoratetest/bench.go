package decoratetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// Variant is a way to decorate a store, for benchmarks.
type Variant struct {
	Name string
	Wrap func(storage.Storage) storage.Storage
}

// Bare is the undecorated store.
var Bare = Variant{"bare", func(s storage.Storage) storage.Storage { return s }}

func benchToken(now time.Time, access string) *models.Token {
	return &models.Token{
		AccessToken:           access,
		RefreshToken:          "r" + access,
		Scope:                 "read",
		IssuedAt:              now,
		ExpiresIn:             time.Hour,
		RefreshTokenExpiresIn: 24 * time.Hour,
		ClientID:              "web-app",
		UserID:                "alice",
	}
}

// BenchGetTokenByAccess benchmarks GetTokenByAccess of a live token of a
// memstore holding 1000, under each variant (sub-benchmarks store=NAME).
func BenchGetTokenByAccess(b *testing.B, variants ...Variant) {
	ctx := context.Background()
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range variants {
		b.Run("store="+v.Name, func(b *testing.B) {
			s := v.Wrap(memstore.New(memstore.WithClock(func() time.Time { return now })))
			for i := range 1000 {
				if err := s.CreateToken(ctx, benchToken(now, "access-"+strconv.Itoa(i))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetTokenByAccess(ctx, "access-500"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchCreateToken benchmarks CreateToken of new tokens under each
// variant, on a store renewed every 65536 tokens (off the clock).
func BenchCreateToken(b *testing.B, variants ...Variant) {
	ctx := context.Background()
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range variants {
		b.Run("store="+v.Name, func(b *testing.B) {
			newStore := func() storage.Storage {
				return v.Wrap(memstore.New(memstore.WithClock(func() time.Time { return now })))
			}
			s := newStore()
			toks := make([]*models.Token, 1<<16)
			for i := range toks {
				toks[i] = benchToken(now, "access-"+strconv.Itoa(i))
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i == len(toks) {
					b.StopTimer()
					s, i = newStore(), 0
					b.StartTimer()
				}
				if err := s.CreateToken(ctx, toks[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
