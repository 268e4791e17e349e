package slogstore_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/oauthstore/oauthstore/internal/decorate/decoratetest"
	"github.com/oauthstore/oauthstore/slogstore"
	"github.com/oauthstore/oauthstore/storage"
)

// variants: the bare store; the decorator with a discarding handler; and,
// for scale, with a text handler at Debug writing every line to
// io.Discard.
var variants = []decoratetest.Variant{
	decoratetest.Bare,
	{Name: "slog-discard", Wrap: func(s storage.Storage) storage.Storage {
		return slogstore.New(s, slog.New(slog.DiscardHandler))
	}},
	{Name: "slog-text", Wrap: func(s storage.Storage) storage.Storage {
		return slogstore.New(s, slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}},
}

func BenchmarkGetTokenByAccess(b *testing.B) {
	decoratetest.BenchGetTokenByAccess(b, variants...)
}

func BenchmarkCreateToken(b *testing.B) {
	decoratetest.BenchCreateToken(b, variants...)
}
