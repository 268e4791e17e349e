package gormstore

import (
	"slices"
	"testing"

	"github.com/oauthstore/oauthstore/internal/testenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// TestListClientsBytewiseUnderCollation gives the clients' client_id and
// user_id columns a linguistic ICU collation, as a database created with
// such a default would, and checks that ListClients still orders and pages
// client IDs byte for byte (COLLATE "C"), with and without the owner
// filter. The test database's own collation (C.UTF-8 here) would not tell.
func TestListClientsBytewiseUnderCollation(t *testing.T) {
	ctx := t.Context()
	db := testenv.Postgres(t)
	var n int64
	if err := db.Raw(`SELECT COUNT(*) FROM pg_collation WHERE collname = 'und-x-icu'`).Row().Scan(&n); err != nil || n == 0 {
		t.Skipf("PostgreSQL without ICU collations (%v)", err)
	}
	prefix := randomPrefix()
	first := newStore(t, db, newTestClock(), WithTablePrefix(prefix))
	t.Cleanup(func() { dropTables(t, db, first) })
	if err := first.Close(); err != nil { // its statements were prepared on the table as it was
		t.Fatal(err)
	}
	for _, col := range []string{"client_id", "user_id"} {
		if err := db.Exec(`ALTER TABLE ` + first.t.clients + ` ALTER COLUMN ` + col + ` TYPE TEXT COLLATE "und-x-icu"`).Error; err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t, db, newTestClock(), WithTablePrefix(prefix))
	ids := []string{"Alpha", "alpha", "Beta", "beta", "Zulu", "zulu", "élan", "Ézio", "_under", "-dash", "9nine", "日本", "a b", "ab"}
	for _, id := range ids {
		if err := s.CreateClient(ctx, &models.Client{ClientID: id, UserID: "owner"}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids) // bytewise
	var icu []string
	if err := db.Raw(`SELECT client_id FROM ` + s.t.clients + ` ORDER BY client_id`).Scan(&icu).Error; err != nil {
		t.Fatal(err)
	}
	if slices.Equal(icu, ids) {
		t.Fatalf("the column's collation orders the IDs bytewise already: the test is blind")
	}
	for _, q := range []storage.ClientQuery{{Limit: 3}, {Limit: 3, UserID: "owner"}} {
		var got []string
		for {
			page, err := s.ListClients(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page.Clients {
				got = append(got, c.ClientID)
			}
			if page.Next == "" {
				break
			}
			q.After = page.Next
		}
		if !slices.Equal(got, ids) {
			t.Errorf("ListClients (owner %q) under an ICU collation listed\n\t%q\nwant, bytewise,\n\t%q", q.UserID, got, ids)
		}
	}
}
