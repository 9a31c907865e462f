// Package store is the visibility service's PostgreSQL storage (schema
// "visibility"), through pgx.
//
// Every write runs in one transaction that first locks the company row, so
// writes to one company are serialized and the checks that depend on state
// (plan limits, cycles, the last visible pipeline) cannot race. A write that
// changes anything increments the company version, records what changed in
// the changes table and sends NOTIFY visibility_changes "company:version", all
// in the same transaction; replicas reload exactly what changed (see package
// engine). Errors are sentinels wrapped with %w; the server maps them.
package store
