package gooauth2_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/oauthstore/oauthstore/integration/gooauth2"
)

// The constructors return the exported types they build, not go-oauth2's
// interfaces, so that callers reach every documented method; this fails to
// compile if one changes.
var (
	_ *gooauth2.ClientStore = gooauth2.NewClientStore(nil)
	_ *gooauth2.TokenStore  = gooauth2.NewTokenStore(nil)
)

// No exported type of the adapter keeps a context.Context in a field: each
// call takes its own (go-oauth2 passes one per call), and
// Client.VerifyPassword, which go-oauth2 calls without one, makes its own.
func TestNoContextInFields(t *testing.T) {
	ctxType := reflect.TypeFor[context.Context]()
	for _, typ := range []reflect.Type{
		reflect.TypeFor[gooauth2.Client](),
		reflect.TypeFor[gooauth2.ClientStore](),
		reflect.TypeFor[gooauth2.TokenStore](),
		reflect.TypeFor[gooauth2.TokenInfo](),
	} {
		for i := range typ.NumField() {
			if f := typ.Field(i); f.Type == ctxType || f.Type.Implements(ctxType) {
				t.Errorf("%s keeps a context in field %s (%s)", typ, f.Name, f.Type)
			}
		}
	}
}
