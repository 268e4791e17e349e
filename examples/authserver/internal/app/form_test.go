package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

func formRequest(target, contentType, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// readForm leaves r.Form equal to the body's parameters, or refuses the
// request: after it, r.FormValue (go-oauth2's reader) and r.PostForm agree.
func TestReadForm(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name             string
		target, ct, body string
		ok               bool
	}{
		{"body", "/token", form, "grant_type=client_credentials&scope=read", true},
		{"body with charset", "/token", form + "; charset=utf-8", "grant_type=client_credentials", true},
		{"query", "/token?grant_type=refresh_token", form, "client_id=x", false},
		{"empty query", "/token?", form, "client_id=x", false},
		{"JSON", "/token", "application/json", `{"grant_type":"client_credentials"}`, false},
		{"multipart", "/token", "multipart/form-data; boundary=x", "--x--", false},
		{"no content type", "/token", "", "grant_type=client_credentials", false},
		{"twice", "/token", form, "grant_type=a&grant_type=b", false},
		{"malformed", "/token", form, "grant_type=%zz", false},
		{"too long", "/token", form, "x=" + strings.Repeat("a", maxFormBytes), false},
	} {
		r := formRequest(c.target, c.ct, c.body)
		err := readForm(httptest.NewRecorder(), r)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.err != oerrors.ErrInvalidRequest {
				t.Errorf("%s: %v, want invalid_request", c.name, err)
			}
			continue
		}
		if len(r.Form) != len(r.PostForm) {
			t.Errorf("%s: Form %v, PostForm %v", c.name, r.Form, r.PostForm)
		}
		for k := range r.Form {
			if r.FormValue(k) != r.PostForm.Get(k) {
				t.Errorf("%s: %s differs", c.name, k)
			}
		}
	}
}

func TestClientCredentials(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name    string
		body    string
		basic   [2]string
		header  string
		id, sec string
		err     error // nil, oerrors.ErrInvalidClient, or oerrors.ErrInvalidRequest
	}{
		{"basic", "", [2]string{"c%3A1", "s%2Fx"}, "", "c:1", "s/x", nil},
		{"post", "client_id=c&client_secret=s", [2]string{}, "", "c", "s", nil},
		{"public", "client_id=c", [2]string{}, "", "c", "", nil},
		{"basic and client_secret", "client_secret=s", [2]string{"c", "s"}, "", "", "", oerrors.ErrInvalidRequest},
		{"basic and another client_id", "client_id=d", [2]string{"c", "s"}, "", "", "", oerrors.ErrInvalidRequest},
		{"basic and the same client_id", "client_id=c", [2]string{"c", "s"}, "", "c", "s", nil},
		{"nothing", "", [2]string{}, "", "", "", oerrors.ErrInvalidClient},
		{"bearer", "client_id=c", [2]string{}, "Bearer x", "", "", oerrors.ErrInvalidClient},
		{"basic, malformed encoding", "", [2]string{"c%zz", "s"}, "", "", "", oerrors.ErrInvalidClient},
	} {
		r := formRequest("/token", form, c.body)
		if c.basic[0] != "" {
			r.SetBasicAuth(c.basic[0], c.basic[1])
		}
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if err := readForm(httptest.NewRecorder(), r); err != nil {
			t.Fatal(err)
		}
		id, sec, err := clientCredentials(r)
		var re *requestError
		switch {
		case c.err == nil && (err != nil || id != c.id || sec != c.sec):
			t.Errorf("%s: %q %q %v", c.name, id, sec, err)
		case c.err == oerrors.ErrInvalidRequest && !(errors.As(err, &re) && re.err == c.err):
			t.Errorf("%s: %v, want invalid_request", c.name, err)
		case c.err == oerrors.ErrInvalidClient && err != c.err:
			t.Errorf("%s: %v, want invalid_client", c.name, err)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc",
		"": "", "Basic abc": "", "Bearer": "", "Bearer ": "", "abc": "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/userinfo?"+url.Values{"access_token": {"q"}}.Encode(), nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		got, ok := bearerToken(r)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
}
