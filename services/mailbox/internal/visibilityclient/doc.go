// Package visibilityclient is the mailbox's view of the visibility service:
// the small interface the mailbox needs (can the calling user see these CRM
// items?), a gRPC implementation that asks visibility's BatchCheckAccess with
// the caller's own token, and an in-process table for tests.
//
// Visibility's status codes are translated here, never passed through
// (DESIGN M2, "mailbox fails closed"): NOT_FOUND and PERMISSION_DENIED (the
// user or company is unknown to visibility, or the caller may not ask) mean
// "sees none of the items"; every other failure, UNAVAILABLE and
// DEADLINE_EXCEEDED first, is ErrUnavailable, on which callers must show no
// other user's thread.
package visibilityclient
