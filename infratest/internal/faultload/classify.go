package faultload

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/oauthstore/oauthstore/storage"
)

// sentinels are the storage errors a caller acts on, by name.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotFound", storage.ErrNotFound},
	{"ErrAlreadyExists", storage.ErrAlreadyExists},
	{"ErrExpired", storage.ErrExpired},
	{"ErrRevoked", storage.ErrRevoked},
	{"ErrAlreadyUsed", storage.ErrAlreadyUsed},
	{"ErrInvalid", storage.ErrInvalid},
	{"ErrInvalidSecret", storage.ErrInvalidSecret},
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return true
		}
	}
	return false
}

// classify names the class of an error the store returned:
//
//   - "sentinel ErrX": a storage sentinel;
//   - "context": the call's deadline or cancellation;
//   - "driver ...": an error type of the database driver (driverClass);
//   - "net ...": a network error (net.Error, a reset, a refusal, an
//     unexpected EOF, a closed connection), whatever the driver wrapped;
//   - "UNKNOWN" or "UNWRAPPED": none of those, or an error that does not
//     begin with the store's prefix; the test fails on them.
func (r *runner) classify(err error) string {
	if err == nil {
		return ""
	}
	if !strings.HasPrefix(err.Error(), r.b.Prefix) {
		return "UNWRAPPED"
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return "sentinel " + s.name
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "context"
	}
	if r.b.DriverClass != nil {
		if c := r.b.DriverClass(err); c != "" {
			return "driver " + c
		}
	}
	return netClass(err)
}

// netClass classifies network errors, or returns "UNKNOWN".
func netClass(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "net reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "net refused"
	case errors.Is(err, syscall.EPIPE):
		return "net broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "net EOF"
	case errors.Is(err, net.ErrClosed):
		return "net closed"
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return "net bad conn"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return "net timeout"
		}
		return "net other"
	}
	return "UNKNOWN"
}
