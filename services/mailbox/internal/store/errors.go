package store

import (
	"errors"
	"fmt"
)

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

// ErrMixedCompanies: an IngestBatch named more than one company.
var ErrMixedCompanies = errors.New("store: ingest batch spans companies")

// BatchError is the failure of one message of an IngestBatch; it wraps the
// message's error (one of the above).
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("message %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }
