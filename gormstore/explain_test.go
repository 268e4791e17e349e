package gormstore

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// storeStatements returns the statements of lg that read, change or delete
// the store's clients, codes and tokens (not schema queries or inserts).
func storeStatements(s *Store, stmts []loggedStmt) []loggedStmt {
	var out []loggedStmt
	for _, st := range stmts {
		q := strings.TrimSpace(st.sql)
		if strings.HasPrefix(q, "INSERT") || !strings.Contains(q, s.t.clients) && !strings.Contains(q, s.t.codes) && !strings.Contains(q, s.t.tokens) {
			continue
		}
		out = append(out, st)
	}
	return out
}

// TestExplain runs the store's operations, records every statement it sends
// that reads, updates or deletes rows, and asks the database for each
// plan: none may scan a table, the statements that select by code, access
// token or refresh token (lookups, and the conditional UPDATEs of
// ConsumeAuthorizationCode and RotateToken) must use their unique digest
// indexes, and every statement that selects by grant_id (RevokeGrant, a
// replayed code, a reused refresh token) must use the grant_id index of
// each table it reads.
func TestExplain(t *testing.T) {
	for _, b := range backends[:2] { // SQLite and PostgreSQL
		t.Run(string(b.name), func(t *testing.T) {
			db := b.open(t)
			rec := recordSQL(t, db)
			clock := newTestClock()
			s := newStore(t, db, clock)
			rec.take()
			exercise(t, s, clock)
			stmts := storeStatements(s, rec.take())
			if len(stmts) < 20 {
				t.Fatalf("recorded only %d statements", len(stmts))
			}
			wantIndex := map[string]string{
				"WHERE code_digest =":    s.t.codes + "_code_digest_key",
				"WHERE access_digest =":  s.t.tokens + "_access_digest_key",
				"WHERE refresh_digest =": s.t.tokens + "_refresh_digest_key",
			}
			seen := map[string]bool{}
			byGrant := map[string]bool{} // grant_id statements checked
			for _, st := range stmts {
				plan := explain(t, b.name, db, st)
				if bad := scansTable(b.name, plan, s); bad != "" {
					t.Errorf("statement scans a table (%s):\n%s\nplan:\n%s", bad, st.sql, plan)
				}
				for _, table := range []string{s.t.codes, s.t.tokens} {
					if !regexp.MustCompile(`\b` + table + `\b[^()]*\bWHERE grant_id =`).MatchString(st.sql) {
						continue
					}
					byGrant[st.sql] = true
					if index := table + "_grant_id_idx"; !strings.Contains(plan, index) {
						t.Errorf("statement selecting by grant_id does not use %s:\n%s\nplan:\n%s", index, st.sql, plan)
					}
				}
				for cond, index := range wantIndex {
					if strings.Contains(st.sql, cond) {
						seen[cond] = true
						if !strings.Contains(plan, index) {
							t.Errorf("lookup does not use %s:\n%s\nplan:\n%s", index, st.sql, plan)
						}
					}
				}
			}
			if len(seen) != len(wantIndex) {
				t.Errorf("lookups seen: %v, want all of %v", seen, wantIndex)
			}
			// The grant statements (revoke a grant's codes and tokens, the
			// existence check of RevokeGrant) were checked for the grant_id
			// index, and the rotation's UPDATE for the refresh_digest one.
			for _, q := range []string{s.q.revokeGrantCodes, s.q.revokeGrantTokens, s.q.hasGrant} {
				if !byGrant[q] {
					t.Errorf("statement not run or not checked for the grant_id index:\n%s", q)
				}
			}
			if !slices.ContainsFunc(stmts, func(st loggedStmt) bool {
				return st.sql == s.q.rotateOldChecked || st.sql == s.q.rotateOne
			}) {
				t.Errorf("the rotation's UPDATE was not run:\n%s%s", s.q.rotateOldChecked, s.q.rotateOne)
			}
		})
	}
}

// explain returns the database's plan for st, one line per plan row. On
// PostgreSQL sequential scans are disabled first: the planner prefers them
// on tiny tables, and with them off a Seq Scan remains only where no index
// can serve.
func explain(t *testing.T, d dialect, db *gorm.DB, st loggedStmt) string {
	t.Helper()
	return explainWith(t, d, db, st)
}

// explainWith is explain with more planner settings on PostgreSQL (SET
// LOCAL statements).
func explainWith(t *testing.T, d dialect, db *gorm.DB, st loggedStmt, settings ...string) string {
	t.Helper()
	var lines []string
	switch d {
	case sqliteDialect:
		rows, err := db.Raw("EXPLAIN QUERY PLAN "+st.sql, st.vars...).Rows()
		if err != nil {
			t.Fatalf("explain %s: %v", st.sql, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	case postgresDialect:
		sqlDB, err := db.DB()
		if err != nil {
			t.Fatal(err)
		}
		tx, err := sqlDB.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for _, set := range append([]string{"SET LOCAL enable_seqscan = off"}, settings...) {
			if _, err := tx.Exec(set); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := tx.Query("EXPLAIN "+st.sql, st.vars...)
		if err != nil {
			t.Fatalf("explain %s: %v", st.sql, err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(lines, "\n")
}

// scansTable returns the plan line that reads a whole store table, or "".
func scansTable(d dialect, plan string, s *Store) string {
	for line := range strings.SplitSeq(plan, "\n") {
		switch d {
		case sqliteDialect:
			// SQLite says "SCAN t" for a full scan, "SCAN t USING
			// COVERING INDEX i" for a whole-index scan; lookups are
			// "SEARCH t USING ... INDEX".
			for _, table := range []string{s.t.clients, s.t.codes, s.t.tokens} {
				if regexp.MustCompile(`\bSCAN ` + table + `\b`).MatchString(line) {
					return line
				}
			}
		case postgresDialect:
			if strings.Contains(line, "Seq Scan") {
				return line
			}
		}
	}
	return ""
}

// TestLookupsAreOneQuery counts the statements each lookup sends: one.
func TestLookupsAreOneQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := b.open(t)
		rec := recordSQL(t, db)
		clock := newTestClock()
		s := newStore(t, db, clock)
		if err := s.CreateClient(ctx, &models.Client{ClientID: "c1", ClientSecret: "pw"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAuthorizationCode(ctx, &models.AuthorizationCode{Code: "code", ClientID: "c1", AuthTime: epoch, ExpiresIn: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, token("acc", "ref")); err != nil {
			t.Fatal(err)
		}
		for name, op := range map[string]func() error{
			"GetClient":            func() error { _, err := s.GetClient(ctx, "c1"); return err },
			"AuthenticateClient":   func() error { _, err := s.AuthenticateClient(ctx, "c1", "pw"); return err },
			"GetAuthorizationCode": func() error { _, err := s.GetAuthorizationCode(ctx, "code"); return err },
			"GetTokenByAccess":     func() error { _, err := s.GetTokenByAccess(ctx, "acc"); return err },
			"GetTokenByRefresh":    func() error { _, err := s.GetTokenByRefresh(ctx, "ref"); return err },
		} {
			rec.take()
			if err := op(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := rec.take(); len(got) != 1 {
				t.Errorf("%s sent %d statements, want 1: %v", name, len(got), got)
			}
		}
	})
}

// TestExplainListClients asks the database for the plans of ListClients,
// with and without the owner filter: each must read an index in client ID
// order (no table scan, no sort), on PostgreSQL one of the COLLATE "C"
// indexes, and with the owner filter the (user_id, client_id) one.
func TestExplainListClients(t *testing.T) {
	for _, b := range backends[:2] { // SQLite and PostgreSQL
		t.Run(string(b.name), func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			rec := recordSQL(t, db)
			s := newStore(t, db, newTestClock())
			for id, owner := range map[string]string{"Alpha": "owner-a", "alpha": "owner-a", "Beta": "owner-b", "élan": "owner-b"} {
				if err := s.CreateClient(ctx, &models.Client{ClientID: id, UserID: owner}); err != nil {
					t.Fatal(err)
				}
			}
			rec.take()
			for _, q := range []storage.ClientQuery{{}, {After: "Alpha", Limit: 2}, {UserID: "owner-a"}, {UserID: "owner-a", After: "a"}} {
				if _, err := s.ListClients(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			stmts := rec.take()
			if len(stmts) != 4 {
				t.Fatalf("recorded %d statements, want 4", len(stmts))
			}
			for i, st := range stmts {
				want, byUser := s.q.listClients, i >= 2
				if byUser {
					want = s.q.listClientsByUser
				}
				if st.sql != want {
					t.Fatalf("statement %d = %s, want %s", i, st.sql, want)
				}
				// On tiny tables the planner prefers sorting what a bitmap
				// scan found; with both off, a Sort remains only where no
				// index gives the order.
				plan := explainWith(t, b.name, db, st, "SET LOCAL enable_sort = off", "SET LOCAL enable_bitmapscan = off")
				if bad := scansTable(b.name, plan, s); bad != "" {
					t.Errorf("ListClients scans a table (%s):\n%s\nplan:\n%s", bad, st.sql, plan)
				}
				if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "Sort") {
					t.Errorf("ListClients sorts instead of reading an index in order:\n%s\nplan:\n%s", st.sql, plan)
				}
				var index string
				switch {
				case byUser:
					index = s.t.clients + "_user_id_idx"
				case b.name == postgresDialect:
					index = s.t.clients + "_client_id_c_idx"
				default:
					index = "sqlite_autoindex_" + s.t.clients + "_1" // the primary key
				}
				if !strings.Contains(plan, index) {
					t.Errorf("ListClients does not use %s:\n%s\nplan:\n%s", index, st.sql, plan)
				}
			}
		})
	}
}
