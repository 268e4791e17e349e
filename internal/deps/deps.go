//go:build oauthstore_deps

// Package deps pins the modules the project's packages and tests import,
// so that parallel work on separate packages never has to edit go.mod.
//
// Pin nothing here that only the nested infratest module needs
// (testcontainers-go, FerretDB): every module the root go.mod requires
// reaches the go.sum of the library's users.
package deps

import (
	_ "github.com/go-oauth2/oauth2/v4/generates"
	_ "github.com/go-oauth2/oauth2/v4/manage"
	_ "github.com/go-oauth2/oauth2/v4/models"
	_ "github.com/go-oauth2/oauth2/v4/server"
	_ "github.com/go-oauth2/oauth2/v4/store"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/ory/fosite/storage"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/oauth2"
	_ "gorm.io/driver/mysql"
	_ "gorm.io/driver/postgres"
	_ "gorm.io/driver/sqlite"
	_ "gorm.io/gorm"
)
