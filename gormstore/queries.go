package gormstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

const (
	clientColumns = "client_id, secret_hash, grant_types, response_types, redirect_uris, scope, user_id"
	// clientReadColumns are the columns a client is read from.
	clientReadColumns = clientColumns + ", previous_secret_hash, previous_valid_until_ms"
	codeColumns       = "client_id, redirect_uri, response_type, scope, auth_time_ms, expires_at_ms, code_challenge, code_challenge_method, nonce, user_id, grant_id, used"
	// tokenColumns are the columns CreateToken writes, in its order, and
	// the token lookups read, followed by rotated_at_ms.
	tokenColumns = "client_id, scope, token_type, user_id, grant_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked"
)

// queries holds every fixed statement of the store, built once by [New]
// for its table prefix and dialect, with the dialect's placeholders (? or
// $n): the statements the prepared session keeps, and a lookup that
// builds no SQL.
type queries struct {
	insertClient, selectClient                          string
	deleteClientCodes, deleteClientTokens, deleteClient string
	// Client management: update the registration, rotate the secret
	// (keeping the current one as the previous, or not), remove the
	// secrets, tell whether a client exists, list a page (all, or one
	// owner's), revoke a client's tokens and codes, and tell whether any
	// client, code or token of a client ID is stored.
	updateClient, rotateSecret, rotateSecretNoPrevious, removeSecrets, hasClient string
	listClients, listClientsByUser                                               string
	revokeClientTokens, revokeClientCodes, hasClientRecords                      string
	// Stats: the number of clients, and codes and tokens by client and
	// state at a bound instant.
	countClients, statsCodes, statsTokens           string
	insertCode, selectCode, consumeCode, deleteCode string
	// consumeCode returning the row (PostgreSQL, SQLite 3.35+); empty on
	// MySQL.
	consumeCodeReturning                                              string
	insertToken, tokenByAccess, tokenByRefresh, revokeToken, hasToken string
	// The rotation of SQLite and MySQL, in one transaction:
	// rotateOldChecked, the conditional UPDATE of the old pair that also
	// requires the successor's client and grant ([backendkit.Successor]),
	// so that a mismatch writes nothing; insertSuccessor, the INSERT of
	// the next pair with the old row's client_id and grant_id (INSERT ...
	// SELECT by refresh_digest), so that the old pair need not be read.
	// Empty on PostgreSQL.
	rotateOldChecked, insertSuccessor string
	// rotateOne is the whole rotation as one statement on PostgreSQL: a
	// data-modifying CTE running the UPDATE of rotateOldChecked, whose
	// RETURNING feeds the INSERT of the next pair. Empty elsewhere.
	rotateOne string
	// Grants: revoke a grant's tokens, mark its unused codes used, and
	// tell whether any record of it is stored.
	revokeGrantTokens, revokeGrantCodes, hasGrant string
	// Purge, one per target table (codes, tokens): the batch DELETE on
	// SQLite and PostgreSQL, the SELECT of a batch of ids on MySQL.
	purge [2]string
}

func queriesFor(d dialect, t tables, batch int) queries {
	b := func(q string) string { return bindVars(d, q) }
	q := queries{
		insertClient:       b("INSERT INTO " + t.clients + " (" + clientColumns + ", created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		selectClient:       b("SELECT " + clientReadColumns + " FROM " + t.clients + " WHERE client_id = ?"),
		deleteClientCodes:  b("DELETE FROM " + t.codes + " WHERE client_id = ?"),
		deleteClientTokens: b("DELETE FROM " + t.tokens + " WHERE client_id = ?"),
		deleteClient:       b("DELETE FROM " + t.clients + " WHERE client_id = ?"),

		insertCode:  b("INSERT INTO " + t.codes + " (code_digest, " + codeColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE)"),
		selectCode:  b("SELECT " + codeColumns + " FROM " + t.codes + " WHERE code_digest = ?"),
		consumeCode: b("UPDATE " + t.codes + " SET used = TRUE, used_at_ms = ? WHERE code_digest = ? AND used = FALSE AND expires_at_ms >= ?"),
		deleteCode:  b("DELETE FROM " + t.codes + " WHERE code_digest = ?"),

		insertToken:    b("INSERT INTO " + t.tokens + " (access_digest, refresh_digest, " + tokenColumns + ", purge_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)"),
		tokenByAccess:  b("SELECT " + tokenColumns + ", rotated_at_ms FROM " + t.tokens + " WHERE access_digest = ?"),
		tokenByRefresh: b("SELECT " + tokenColumns + ", rotated_at_ms FROM " + t.tokens + " WHERE refresh_digest = ?"),
		revokeToken:    b("UPDATE " + t.tokens + " SET revoked = TRUE, revoked_at_ms = ? WHERE (access_digest = ? OR refresh_digest = ?) AND revoked = FALSE"),
		hasToken:       b("SELECT COUNT(*) FROM " + t.tokens + " WHERE access_digest = ? OR refresh_digest = ?"),

		revokeGrantTokens: b("UPDATE " + t.tokens + " SET revoked = TRUE, revoked_at_ms = ? WHERE grant_id = ? AND revoked = FALSE"),
		revokeGrantCodes:  b("UPDATE " + t.codes + " SET used = TRUE, used_at_ms = ? WHERE grant_id = ? AND used = FALSE"),
		hasGrant: b("SELECT CASE WHEN EXISTS (SELECT 1 FROM " + t.codes + " WHERE grant_id = ?)" +
			" OR EXISTS (SELECT 1 FROM " + t.tokens + " WHERE grant_id = ?) THEN 1 ELSE 0 END"),
	}
	if d != mysqlDialect {
		q.consumeCodeReturning = q.consumeCode + " RETURNING " + codeColumns
	}
	// The winner of a rotation is the one caller this UPDATE changes a
	// row for: the pair is live (not revoked, refresh lifetime not over at
	// the rounded-up now, [backendkit.CeilMillis]) and the successor
	// checks of [backendkit.Successor] hold: the same client, and the same
	// grant unless the next pair names none (its grant ID is bound twice).
	// A pair that fails them is left alone, and the caller's read of it
	// tells a mismatch from a lost race. It selects by refresh_digest, so
	// that its plan is the unique index's: the successor checks are
	// inside a CASE, which no planner turns into a search of the
	// client_id or grant_id index (PostgreSQL does, on small tables, for
	// plain conditions).
	checked := "UPDATE " + t.tokens + " SET revoked = TRUE, revoked_at_ms = ?, rotated_at_ms = ?" +
		" WHERE refresh_digest = ? AND revoked = FALSE AND refresh_expires_at_ms >= ?" +
		" AND CASE WHEN client_id = ? AND (grant_id = ? OR ? = '') THEN 1 ELSE 0 END = 1"
	// The next pair's columns but client_id and grant_id, which come from
	// the old row (equal to the next pair's where it names them).
	successorColumns := "access_digest, refresh_digest, client_id, scope, token_type, user_id, grant_id, issued_at_ms, expires_at_ms, refresh_expires_at_ms, revoked, purge_at_ms"
	if d == postgresDialect {
		// One statement: the UPDATE in a data-modifying CTE, and the
		// INSERT of the row it returns. Both or neither: a unique
		// violation of the INSERT aborts the statement, the UPDATE with
		// it. A concurrent caller's UPDATE waits for the row and, once
		// the winner has committed, re-checks the condition on the new
		// version (READ COMMITTED), finds it revoked and changes
		// nothing, so its INSERT has no row to insert. The casts type
		// the parameters of INSERT ... SELECT, which PostgreSQL does not
		// infer from the target columns.
		q.rotateOne = b("WITH old AS (" + checked + " RETURNING client_id, grant_id)" +
			" INSERT INTO " + t.tokens + " (" + successorColumns + ")" +
			" SELECT CAST(? AS TEXT), CAST(? AS TEXT), old.client_id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), old.grant_id," +
			" CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), FALSE, CAST(? AS BIGINT) FROM old RETURNING 1")
	} else {
		q.rotateOldChecked = b(checked)
		q.insertSuccessor = b("INSERT INTO " + t.tokens + " (" + successorColumns + ")" +
			" SELECT ?, ?, client_id, ?, ?, ?, grant_id, ?, ?, ?, FALSE, ? FROM " + t.tokens + " WHERE refresh_digest = ?")
	}
	// Client IDs are ordered and compared byte for byte: SQLite's BINARY
	// collation and MySQL's VARBINARY do it; PostgreSQL is told to with
	// COLLATE "C", which its indexes on client_id COLLATE "C" serve.
	byID := "client_id"
	if d == postgresDialect {
		byID = `client_id COLLATE "C"`
	}
	// The SET assignments read the row as it was on SQLite and PostgreSQL;
	// MySQL assigns from left to right, so the previous secret is set
	// before secret_hash changes.
	q.updateClient = b("UPDATE " + t.clients + " SET grant_types = ?, response_types = ?, redirect_uris = ?, scope = ?, user_id = ? WHERE client_id = ?")
	q.rotateSecret = b("UPDATE " + t.clients + " SET" +
		" previous_secret_hash = CASE WHEN secret_hash = '' THEN NULL ELSE secret_hash END," +
		" previous_valid_until_ms = CASE WHEN secret_hash = '' THEN NULL ELSE CAST(? AS BIGINT) END," +
		" secret_hash = ? WHERE client_id = ?")
	if d == mysqlDialect {
		q.rotateSecret = strings.Replace(q.rotateSecret, "CAST(? AS BIGINT)", "CAST(? AS SIGNED)", 1)
	}
	q.rotateSecretNoPrevious = b("UPDATE " + t.clients + " SET previous_secret_hash = NULL, previous_valid_until_ms = NULL, secret_hash = ? WHERE client_id = ?")
	q.removeSecrets = b("UPDATE " + t.clients + " SET secret_hash = '', previous_secret_hash = NULL, previous_valid_until_ms = NULL WHERE client_id = ?")
	q.hasClient = b("SELECT COUNT(*) FROM " + t.clients + " WHERE client_id = ?")
	q.listClients = b("SELECT " + clientReadColumns + " FROM " + t.clients + " WHERE " + byID + " > ? ORDER BY " + byID + " LIMIT ?")
	q.listClientsByUser = b("SELECT " + clientReadColumns + " FROM " + t.clients + " WHERE user_id = ? AND " + byID + " > ? ORDER BY " + byID + " LIMIT ?")
	q.revokeClientTokens = b("UPDATE " + t.tokens + " SET revoked = TRUE, revoked_at_ms = ? WHERE client_id = ? AND revoked = FALSE")
	q.revokeClientCodes = b("UPDATE " + t.codes + " SET used = TRUE, used_at_ms = ? WHERE client_id = ? AND used = FALSE")
	q.hasClientRecords = b("SELECT CASE WHEN EXISTS (SELECT 1 FROM " + t.clients + " WHERE client_id = ?)" +
		" OR EXISTS (SELECT 1 FROM " + t.codes + " WHERE client_id = ?)" +
		" OR EXISTS (SELECT 1 FROM " + t.tokens + " WHERE client_id = ?) THEN 1 ELSE 0 END")
	q.countClients = "SELECT COUNT(*) FROM " + t.clients
	// The bound instant is the store clock's now rounded up
	// ([backendkit.CeilMillis]): a stored instant e is past exactly when
	// e < it.
	q.statsCodes = b("SELECT client_id," +
		" SUM(CASE WHEN used THEN 0 WHEN expires_at_ms >= ? THEN 1 ELSE 0 END)," +
		" SUM(CASE WHEN used THEN 1 ELSE 0 END)," +
		" SUM(CASE WHEN used THEN 0 WHEN expires_at_ms < ? THEN 1 ELSE 0 END)" +
		" FROM " + t.codes + " GROUP BY client_id")
	q.statsTokens = b("SELECT client_id," +
		" SUM(CASE WHEN revoked THEN 0 WHEN purge_at_ms >= ? THEN 1 ELSE 0 END)," +
		" SUM(CASE WHEN revoked THEN 1 ELSE 0 END)," +
		" SUM(CASE WHEN revoked THEN 0 WHEN purge_at_ms < ? THEN 1 ELSE 0 END)" +
		" FROM " + t.tokens + " GROUP BY client_id")
	for i, target := range purgeTargets(t) {
		if d == mysqlDialect {
			q.purge[i] = fmt.Sprintf("SELECT id FROM %s WHERE %s < ? LIMIT %d", target.table, target.column, batch)
		} else {
			q.purge[i] = b(fmt.Sprintf("DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s WHERE %[2]s < ? LIMIT %[3]d)", target.table, target.column, batch))
		}
	}
	return q
}

// data returns every fixed data statement: those the prepared session
// keeps.
func (q *queries) data() []string {
	out := []string{
		q.insertClient, q.selectClient, q.deleteClientCodes, q.deleteClientTokens, q.deleteClient,
		q.insertCode, q.selectCode, q.consumeCode, q.deleteCode,
		q.insertToken, q.tokenByAccess, q.tokenByRefresh, q.revokeToken, q.hasToken,
		q.revokeGrantTokens, q.revokeGrantCodes, q.hasGrant,
		q.updateClient, q.rotateSecret, q.rotateSecretNoPrevious, q.removeSecrets, q.hasClient,
		q.listClients, q.listClientsByUser, q.revokeClientTokens, q.revokeClientCodes, q.hasClientRecords,
	}
	for _, q := range []string{q.consumeCodeReturning, q.rotateOldChecked, q.insertSuccessor, q.rotateOne} {
		if q != "" {
			out = append(out, q)
		}
	}
	return out
}

// purgeTarget is a table PurgeExpired deletes from and its indexed expiry
// column.
type purgeTarget struct{ table, column string }

func purgeTargets(t tables) [2]purgeTarget {
	return [2]purgeTarget{{t.codes, "expires_at_ms"}, {t.tokens, "purge_at_ms"}}
}

// bindVars writes q's ? placeholders as the dialect wants them: $1, $2...
// on PostgreSQL, as gorm's postgres dialector binds them. The store's
// statements have no ? inside literals.
func bindVars(d dialect, q string) string {
	if d != postgresDialect {
		return q
	}
	var out strings.Builder
	n := 0
	for i := range len(q) {
		if q[i] != '?' {
			out.WriteByte(q[i])
			continue
		}
		n++
		out.WriteByte('$')
		out.WriteString(strconv.Itoa(n))
	}
	return out.String()
}

// statement returns a new statement of the session db for query, already
// in the dialect's placeholder form, and its arguments. It is what db.Raw
// and db.Exec build, without parsing query byte by byte on every call: the
// statement still goes through db's callbacks and logger.
func statement(ctx context.Context, db *gorm.DB, query string, args []any) *gorm.DB {
	tx := db.Raw("") // a new statement of the session; an empty text costs nothing to build
	tx.Statement.Context = ctx
	tx.Statement.SQL.WriteString(query)
	tx.Statement.Vars = args
	return tx
}

// queryRow runs one of the store's fixed queries on its data session.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return statement(ctx, s.data, query, args).Row()
}

// execOn runs one of the store's fixed writing statements on db (the data
// session or a transaction of it), through db's Raw callbacks as db.Exec
// does.
func execOn(ctx context.Context, db *gorm.DB, query string, args ...any) *gorm.DB {
	tx := statement(ctx, db, query, args)
	return tx.Callback().Raw().Execute(tx)
}
