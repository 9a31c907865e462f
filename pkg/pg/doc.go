// Package pg owns Sightline's PostgreSQL plumbing: the pgx pool (one schema per
// service, set as the search_path), readiness pings, classification of
// PostgreSQL errors by SQLSTATE (never by message text), and embedded SQL
// migrations applied with tern under an advisory lock, so replicas starting
// together migrate once.
package pg
