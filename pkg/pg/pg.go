package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
	"github.com/jackc/tern/v2/migrate"
)

// Open returns a pool whose connections use schema as their search_path. It
// does not wait for the database: a service starts, reports NOT_SERVING, and
// becomes ready when PostgreSQL answers.
func Open(ctx context.Context, url, schema string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", redact(err))
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = "sightline-" + schema
	return pgxpool.NewWithConfig(ctx, cfg)
}

// redact drops the parse error's text, which can echo the URL and its password.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string (the value is not shown because it may hold a password)")
	}
	return err
}

// Ping checks that the database answers within timeout.
func Ping(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var one int
	return pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Migrate applies the embedded migrations (files NNN_name.sql in fsys) to schema.
// It connects once, creates the schema if needed and records versions in
// schema.schema_version. Concurrent callers serialize on tern's advisory lock.
func Migrate(ctx context.Context, url, schema string, fsys fs.FS) (from, to int32, err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return 0, 0, fmt.Errorf("parse database url: %w", redact(err))
	}
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return 0, 0, fmt.Errorf("create schema %s: %w", schema, err)
	}
	m, err := migrate.NewMigrator(ctx, conn, pgx.Identifier{schema, "schema_version"}.Sanitize())
	if err != nil {
		return 0, 0, fmt.Errorf("migrator: %w", err)
	}
	if err := m.LoadMigrations(fsys); err != nil {
		return 0, 0, fmt.Errorf("load migrations: %w", err)
	}
	from, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("current version: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return from, from, fmt.Errorf("migrate: %w", err)
	}
	to, err = m.GetCurrentVersion(ctx)
	return from, to, err
}

// SQLSTATE codes the services act on.
const (
	UniqueViolation      = "23505"
	ForeignKeyViolation  = "23503"
	CheckViolation       = "23514"
	SerializationFailure = "40001"
	DeadlockDetected     = "40P01"
)

// Code returns the SQLSTATE of a PostgreSQL error, or "".
func Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsUniqueViolation reports a unique constraint violation.
func IsUniqueViolation(err error) bool { return Code(err) == UniqueViolation }

// IsForeignKeyViolation reports a foreign key violation.
func IsForeignKeyViolation(err error) bool { return Code(err) == ForeignKeyViolation }

// IsRetryable reports a transaction failure that a retry may fix.
func IsRetryable(err error) bool {
	c := Code(err)
	return c == SerializationFailure || c == DeadlockDetected
}

// IsUnavailable reports a failure to reach the database (connection refused,
// lost or timed out; server shutting down or starting up), as opposed to an
// error the database returned about the statement. Such errors map to UNAVAILABLE.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if c := Code(err); c != "" {
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "57P") // connection exception, operator intervention
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, puddle.ErrClosedPool)
}
