// Package imapsync syncs users' mailboxes from their IMAP providers into the
// mailbox store (DESIGN S1, S2, S6, M6).
//
// A Manager claims accounts through leases in PostgreSQL (account_sync:
// FOR UPDATE SKIP LOCKED, an expiry renewed while the account is held), so
// that any number of replicas sync each account exactly once and a dead
// replica's accounts are taken over once its leases expire. Each held
// account has one IMAP connection and one goroutine: it performs pending
// two-way actions (MOVE to the archive or trash, M6), syncs each folder
// (initial window, then new mail by UIDNEXT, \Seen changes by CONDSTORE
// CHANGEDSINCE or a bounded rescan, expunges by comparing UIDs) and then
// waits in IDLE on INBOX, or polls. Fetched messages go through
// store.IngestBatch, whose follow-up writes their locations and the folder
// state in the same transaction (S2). Errors back off with jitter; refused
// credentials park the account in NEEDS_REAUTH until its secret changes.
package imapsync
