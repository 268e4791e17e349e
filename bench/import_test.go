package bench

import (
	"context"
	"fmt"

	"github.com/oauthstore/oauthstore/models"
)

// tokenImporter is a store that loads many tokens at once: gormstore and
// mongostore, whose ImportTokens lays each token out as their CreateToken
// does.
type tokenImporter interface {
	ImportTokens(ctx context.Context, toks []models.Token) error
}

// importChunk bounds how many tokens importTokens builds before handing
// them to the store, so that a 1M fill does not hold them all at once.
const importChunk = 50_000

// importTokens stores tokens 0..n-1 of gen through the store's
// ImportTokens. It is only a faster way to fill a table or collection:
// every measured operation goes through the store's own calls.
func importTokens(ctx context.Context, s tokenImporter, n int, gen func(i int) *models.Token) error {
	toks := make([]models.Token, 0, min(n, importChunk))
	for start := 0; start < n; start += importChunk {
		toks = toks[:0]
		for i := start; i < min(n, start+importChunk); i++ {
			toks = append(toks, *gen(i))
		}
		if err := s.ImportTokens(ctx, toks); err != nil {
			return fmt.Errorf("importing tokens %d to %d: %w", start, start+len(toks)-1, err)
		}
	}
	return nil
}
