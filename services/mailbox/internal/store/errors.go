package store

import "errors"

// Sentinel errors, wrapped with %w; the server maps them to status codes.
var (
	// ErrNotFound: no such row for this company (and owner, where the method names one).
	ErrNotFound = errors.New("store: not found")
	// ErrAccountExists: the user already has an account with that address.
	ErrAccountExists = errors.New("store: mail account already exists")
	// ErrAccountNotFound: IngestMessage named an account the user does not have.
	ErrAccountNotFound = errors.New("store: mail account not found")
	// ErrAlreadyLinked: the thread is linked to another deal or lead.
	ErrAlreadyLinked = errors.New("store: thread already linked")
	// ErrRequestIDReused: an ingest request_id came back with another message.
	ErrRequestIDReused = errors.New("store: request id reused for another message")
)
