package slogstore_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/oauthstore/oauthstore/memstore"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/slogstore"
)

// One line per call, at a level by outcome; no credential in any. The
// handler drops the time and the duration to print the same lines on
// every run.
func Example() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slogstore.DurationKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	store := slogstore.New(memstore.New(), logger)

	err := store.CreateAuthorizationCode(ctx, &models.AuthorizationCode{
		Code:        "code-5d1e",
		ClientID:    "web-app",
		RedirectURI: "https://app.example/callback",
		AuthTime:    time.Now(),
		ExpiresIn:   time.Minute,
	})
	if err != nil {
		panic(err)
	}
	_, _ = store.ConsumeAuthorizationCode(ctx, "code-5d1e")
	_, _ = store.ConsumeAuthorizationCode(ctx, "code-5d1e") // replayed
	_, _ = store.GetTokenByAccess(ctx, "access-unknown")
	// Output:
	// level=DEBUG msg=oauthstore.CreateAuthorizationCode method=CreateAuthorizationCode outcome=ok client_id=web-app
	// level=DEBUG msg=oauthstore.ConsumeAuthorizationCode method=ConsumeAuthorizationCode outcome=ok client_id=web-app
	// level=WARN msg=oauthstore.ConsumeAuthorizationCode method=ConsumeAuthorizationCode outcome=already_used
	// level=INFO msg=oauthstore.GetTokenByAccess method=GetTokenByAccess outcome=not_found
}

// Successes at Info, so that a handler at Info keeps one line per call.
func ExampleWithSuccessLevel() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slogstore.DurationKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	store := slogstore.New(memstore.New(), logger, slogstore.WithSuccessLevel(slog.LevelInfo))
	_, _ = store.PurgeExpired(context.Background())
	// Output:
	// level=INFO msg=oauthstore.PurgeExpired method=PurgeExpired outcome=ok purged=0
}
