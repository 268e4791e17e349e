package faults

import (
	"io"
	"log"
	"os"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
)

func TestMain(m *testing.M) {
	// The MySQL driver logs every broken connection to stderr; the test
	// counts them instead.
	_ = mysqldriver.SetLogger(log.New(io.Discard, "", 0))
	code := m.Run()
	if ferretDir != "" {
		_ = os.RemoveAll(ferretDir)
	}
	os.Exit(code)
}
