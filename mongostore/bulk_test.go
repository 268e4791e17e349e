package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/oauthstore/oauthstore/internal/testenv/mongoenv"
	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/mongostore"
	"github.com/oauthstore/oauthstore/storage"
)

// importToken returns token i of a set: with a refresh token on even i.
func importToken(i int) models.Token {
	t := models.Token{
		AccessToken: fmt.Sprintf("access-%05d-0123456789abcdef", i),
		ClientID:    fmt.Sprintf("client-%d", i%7),
		Scope:       "openid profile",
		UserID:      fmt.Sprintf("user-%d", i%11),
		GrantID:     fmt.Sprint("grant-", i),
		IssuedAt:    t0.Add(time.Duration(i) * time.Millisecond),
		ExpiresIn:   time.Hour,
	}
	if i%2 == 0 {
		t.RefreshToken = fmt.Sprintf("refresh-%05d-0123456789abcdef", i)
		t.RefreshTokenExpiresIn = 24 * time.Hour
	}
	return t
}

// tokenDocs returns the token documents of db by _id, without the gen
// field (a new ObjectID per insert).
func tokenDocs(t *testing.T, db *mongo.Database) []bson.M {
	t.Helper()
	cur, err := db.Collection(mongostore.DefaultCollectionPrefix+mongostore.TokensCollection).
		Find(t.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	must(t, err)
	var docs []bson.M
	must(t, cur.All(t.Context(), &docs))
	for _, d := range docs {
		if _, ok := d["gen"]; !ok {
			t.Fatalf("a token document has no gen: %v", d)
		}
		delete(d, "gen")
	}
	return docs
}

// TestImportTokens: ImportTokens writes, over several batches, the
// documents CreateToken writes for the same tokens, and each is found
// again.
func TestImportTokens(t *testing.T) {
	ctx := t.Context()
	clk := &clock{now: t0}
	const n = mongostore.ImportBatchSize + 3
	toks := make([]models.Token, n)
	for i := range toks {
		toks[i] = importToken(i)
	}
	importedDB := mongoenv.FerretDB(t)
	imported := newStore(t, importedDB, clk.Now)
	must(t, imported.ImportTokens(ctx, toks))
	createdDB := mongoenv.FerretDB(t)
	created := newStore(t, createdDB, clk.Now)
	for i := range toks {
		must(t, created.CreateToken(ctx, &toks[i]))
	}
	got, want := tokenDocs(t, importedDB), tokenDocs(t, createdDB)
	if len(got) != n || !reflect.DeepEqual(got, want) {
		t.Fatalf("%d imported documents differ from the %d created ones; first:\n%v\nwant\n%v", len(got), len(want), got[0], want[0])
	}
	for _, i := range []int{0, 1, mongostore.ImportBatchSize, n - 1} {
		tok, err := imported.GetTokenByAccess(ctx, toks[i].AccessToken)
		must(t, err)
		if tok.ClientID != toks[i].ClientID || tok.GrantID != toks[i].GrantID || !tok.IssuedAt.Equal(toks[i].IssuedAt) {
			t.Fatalf("token %d read back as %+v", i, tok)
		}
		if toks[i].RefreshToken != "" {
			_, err := imported.GetTokenByRefresh(ctx, toks[i].RefreshToken)
			must(t, err)
		}
	}
}

// TestImportTokensFailures: an invalid token writes nothing; a taken
// credential stops the import there, keeping the tokens before it.
func TestImportTokensFailures(t *testing.T) {
	ctx := t.Context()
	db := mongoenv.FerretDB(t)
	s := newStore(t, db, (&clock{now: t0}).Now)
	stored := importToken(10_000)
	must(t, s.CreateToken(ctx, &stored))
	set := func(n int, edit func([]models.Token)) []models.Token {
		toks := make([]models.Token, n)
		for i := range toks {
			toks[i] = importToken(i)
		}
		edit(toks)
		return toks
	}
	noCredential := func(name string, err error, toks []models.Token) {
		for _, tok := range toks {
			if strings.Contains(err.Error(), tok.AccessToken) || (tok.RefreshToken != "" && strings.Contains(err.Error(), tok.RefreshToken)) {
				t.Errorf("%s: the error shows a credential: %v", name, err)
			}
		}
	}

	toks := set(5, func(ts []models.Token) { ts[3].ClientID = "" })
	err := s.ImportTokens(ctx, toks)
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "token 3") {
		t.Fatalf("a token without client: %v, want ErrInvalid naming token 3", err)
	}
	noCredential("invalid", err, toks)
	if c := count(t, db, mongostore.TokensCollection); c != 1 {
		t.Fatalf("an invalid import wrote: %d documents", c)
	}

	toks = set(6, func(ts []models.Token) { ts[4].RefreshToken = stored.RefreshToken })
	err = s.ImportTokens(ctx, toks)
	if !errors.Is(err, storage.ErrAlreadyExists) || !strings.Contains(err.Error(), "token 4 is taken (4 stored)") {
		t.Fatalf("a taken refresh token: %v, want ErrAlreadyExists at token 4", err)
	}
	noCredential("taken", err, toks)
	if c := count(t, db, mongostore.TokensCollection); c != 1+4 {
		t.Fatalf("%d documents after an import stopped at token 4, want 5", c)
	}
	for i, tok := range toks {
		_, err := s.GetTokenByAccess(ctx, tok.AccessToken)
		if stored := i < 4; stored != (err == nil) {
			t.Fatalf("token %d: GetTokenByAccess = %v after the import stopped at token 4", i, err)
		}
	}

	must(t, s.ImportTokens(ctx, nil))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.ImportTokens(cancelled, []models.Token{importToken(99)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled context: %v", err)
	}
}
