package gormstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// TestConsumeCancelledAfterUpdate cancels the caller's context as soon as
// ConsumeAuthorizationCode's UPDATE has consumed the code: the caller must
// still get the code (on PostgreSQL and SQLite the UPDATE returned it; on
// MySQL the read-back does not end with the context), since no one else
// ever can.
func TestConsumeCancelledAfterUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		clock := newTestClock()
		s := newStore(t, b.open(t), clock)
		if err := s.CreateAuthorizationCode(t.Context(), &models.AuthorizationCode{Code: "cancel-code", ClientID: "c1",
			AuthTime: clock.Now(), ExpiresIn: time.Minute, Scope: "read"}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		hooked := false
		s.testHookConsumed = func(hctx context.Context) {
			hooked = true
			cancel()
			<-hctx.Done()
		}
		c, err := s.ConsumeAuthorizationCode(ctx, "cancel-code")
		if !hooked {
			t.Fatal("the hook did not run")
		}
		if err != nil {
			t.Fatalf("ConsumeAuthorizationCode with the context cancelled after the UPDATE: %v", err)
		}
		if c.Code != "cancel-code" || c.ClientID != "c1" || c.Scope != "read" {
			t.Errorf("consumed code = %+v", c)
		}
		s.testHookConsumed = nil
		if _, err := s.ConsumeAuthorizationCode(t.Context(), "cancel-code"); !errors.Is(err, storage.ErrAlreadyUsed) {
			t.Errorf("second ConsumeAuthorizationCode = %v, want ErrAlreadyUsed", err)
		}
	})
}

// TestDeleteClientContextEndsBeforeCommit ends the context inside
// DeleteClient's transaction, before it commits: the error must be the
// context's (not sql.ErrTxDone or a driver's i/o timeout), and nothing
// deleted.
func TestDeleteClientContextEndsBeforeCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range []struct {
			name string
			ctx  func() (context.Context, context.CancelFunc)
			end  func(ctx context.Context, cancel context.CancelFunc)
			want error
		}{
			{"cancel", func() (context.Context, context.CancelFunc) { return context.WithCancel(t.Context()) },
				func(_ context.Context, cancel context.CancelFunc) { cancel() }, context.Canceled},
			// The deadline is far enough for the statements before the hook,
			// which waits for it to pass.
			{"deadline", func() (context.Context, context.CancelFunc) { return context.WithTimeout(t.Context(), 2*time.Second) },
				func(ctx context.Context, _ context.CancelFunc) { <-ctx.Done() }, context.DeadlineExceeded},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clock := newTestClock()
				s := newStore(t, b.open(t), clock)
				if err := s.CreateClient(t.Context(), &models.Client{ClientID: "c1"}); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateToken(t.Context(), token("acc", "ref")); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := tc.ctx()
				defer cancel()
				s.testHookDeleteTx = func(hctx context.Context) {
					tc.end(hctx, cancel)
					<-hctx.Done()
				}
				err := s.DeleteClient(ctx, "c1")
				s.testHookDeleteTx = nil
				if err == nil {
					// database/sql may still commit a transaction whose
					// context ended a moment before Commit (its rollback
					// runs in another goroutine): then the delete happened,
					// whole, and was reported so.
					if _, err := s.GetClient(t.Context(), "c1"); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("DeleteClient reported success but the client reads %v", err)
					}
					if _, err := s.GetTokenByAccess(t.Context(), "acc"); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("DeleteClient reported success but the token reads %v", err)
					}
					t.Logf("the transaction committed before its context's end reached it")
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("DeleteClient with the context ended before the commit = %v, want %v", err, tc.want)
				}
				if _, err := s.GetClient(t.Context(), "c1"); err != nil {
					t.Errorf("the client is gone after a rolled-back DeleteClient: %v", err)
				}
				if _, err := s.GetTokenByAccess(t.Context(), "acc"); err != nil {
					t.Errorf("the token is gone after a rolled-back DeleteClient: %v", err)
				}
			})
		}
	})
}
