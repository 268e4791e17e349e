package gormstore

import (
	"context"
	"database/sql/driver"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// redacted is a bound value the store keeps out of gorm's logs: a client
// secret's hash or a plain PKCE challenge. The database gets the value
// (redacted is a driver.Valuer, on the prepared and the unprepared path
// alike); the store's logger ([redactingLogger]) shows "[REDACTED]" in its
// place, and so does any formatting of the value.
type redacted string

// Value implements driver.Valuer: the database gets the string.
func (r redacted) Value() (driver.Value, error) { return string(r), nil }

// String and GoString keep the value out of any formatting.
func (r redacted) String() string   { return redactedText }
func (r redacted) GoString() string { return redactedText }

// Format keeps the value out of every fmt verb.
func (r redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedText)) }

const redactedText = "[REDACTED]"

// redactingLogger is the logger of the store's sessions: the caller's
// logger, whose statements gorm formats with the bound values
// interpolated, with every [redacted] value replaced by "[REDACTED]"
// before that. gorm asks a logger implementing [gorm.ParamsFilter] for the
// values to show (callbacks.go, after the statement ran); the values the
// database got are not changed. The caller's logger is not changed either:
// the store's sessions get this wrapper of it.
type redactingLogger struct {
	logger.Interface
}

var (
	_ logger.Interface  = redactingLogger{}
	_ gorm.ParamsFilter = redactingLogger{}
)

// redactLogger returns l wrapped, or l if it is wrapped already or nil.
func redactLogger(l logger.Interface) logger.Interface {
	if l == nil {
		return nil
	}
	if _, ok := l.(redactingLogger); ok {
		return l
	}
	return redactingLogger{l}
}

// LogMode keeps the wrapper around the logger of the new level.
func (l redactingLogger) LogMode(level logger.LogLevel) logger.Interface {
	return redactingLogger{l.Interface.LogMode(level)}
}

// ParamsFilter replaces the [redacted] values, then lets the wrapped
// logger filter what remains as it would have.
func (l redactingLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	var out []any
	for i, p := range params {
		if _, ok := p.(redacted); ok {
			if out == nil {
				out = append([]any(nil), params...)
			}
			out[i] = redactedText
		}
	}
	if out == nil {
		out = params
	}
	if f, ok := l.Interface.(gorm.ParamsFilter); ok {
		return f.ParamsFilter(ctx, sql, out...)
	}
	return sql, out
}
