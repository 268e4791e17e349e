package faultload

import (
	"errors"
	"fmt"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// PGClass classifies pgx's error types.
func PGClass(err error) string {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	switch {
	case errors.As(err, &pgErr):
		return "pg SQLSTATE " + pgErr.Code
	case errors.As(err, &connErr):
		return "pg connect"
	case pgconn.Timeout(err):
		return "pg timeout"
	}
	return ""
}

// MySQLClass classifies go-sql-driver/mysql's error types.
func MySQLClass(err error) string {
	var myErr *mysqldriver.MySQLError
	switch {
	case errors.As(err, &myErr):
		return fmt.Sprintf("mysql %d", myErr.Number)
	case errors.Is(err, mysqldriver.ErrInvalidConn):
		return "mysql invalid connection"
	case errors.Is(err, mysqldriver.ErrPktSync), errors.Is(err, mysqldriver.ErrPktSyncMul):
		return "mysql packets out of sync"
	case errors.Is(err, mysqldriver.ErrMalformPkt), errors.Is(err, mysqldriver.ErrBusyBuffer):
		return "mysql broken connection state"
	case innermost(err).Error() == "bad connection":
		// The driver's unexported errBadConnNoWrite: the connection was
		// found broken before the statement was sent.
		return "mysql bad connection"
	}
	return ""
}

// innermost is the error err wraps, unwrapped as far as it goes along a
// chain of single errors.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
