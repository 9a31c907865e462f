// Package store is the mailbox's PostgreSQL storage (schema "mailbox"),
// through pgx: mail settings and accounts (sealed secrets only, S5), user
// addresses, the contact index the CRM feeds (persons, their emails, deals
// and their persons), and threads, messages and participants.
//
// Ingest (ingest.go) is the write path of IMAP sync and Smart Bcc: one
// transaction per message, serialized per user by an advisory lock, in two
// pipelined round trips (BEGIN + lock + lookups, then writes + COMMIT). It
// de-duplicates (S3), threads by references and then by subject and
// participants (S3, with package threading), gives new threads the user's
// default sharing (M4) and links threads to a single open deal (M7).
//
// Links to persons and organizations are not stored: they are derived from
// the participants' addresses at read time (items.go), so a person added to
// the CRM later links its existing threads at once.
//
// It returns sentinel errors wrapped with %w; callers never see SQL or
// PostgreSQL error text. Access rules (M1, M2) are the caller's: methods named
// Own* filter by owner, the others do not.
package store
