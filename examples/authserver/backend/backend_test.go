package backend

import "testing"

func TestMySQLDSN(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root@127.0.0.1:3306/test":                             "root@tcp(127.0.0.1:3306)/test?parseTime=true",
		"mysql://u:p%40ss@db.example/oauth?tls=true":                   "u:p@ss@tcp(db.example:3306)/oauth?parseTime=true&tls=true",
		"mysql://u@[::1]:3307/x?charset=utf8mb4&collation=utf8mb4_bin": "u@tcp([::1]:3307)/x?parseTime=true&charset=utf8mb4&collation=utf8mb4_bin",
	} {
		got, err := MySQLDSN(in)
		if err != nil || got != want {
			t.Errorf("MySQLDSN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := MySQLDSN("mysql://root@127.0.0.1:3306"); err == nil {
		t.Error("a URL without a database was accepted")
	}
}

func TestRedact(t *testing.T) {
	if got := redact("postgres://u:hunter2@h/db"); got != "postgres://u:xxxxx@h/db" {
		t.Errorf("redact = %q", got)
	}
}
