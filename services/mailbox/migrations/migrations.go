// Package migrations embeds the mailbox schema's SQL migrations (NNN_name.sql,
// applied in order by tern; see pkg/pg.Migrate).
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
