// Package mime turns one raw RFC 5322 message, as fetched over IMAP or
// received as a Smart Bcc copy over SMTP, into the fields the mailbox service
// stores: envelope (Message-ID, In-Reply-To, References, Subject, addresses,
// Date), the best text/plain and text/html bodies decoded to UTF-8, attachment
// metadata, a short snippet and a content hash.
//
// It owns message decoding for the intake rules of DESIGN.md: the ids it
// extracts feed threading (S3, see package threading), and ContentHash lets
// ingest store the same message seen in two folders, or via IMAP sync (S1)
// and Smart Bcc (S4), only once (S3). The addresses it extracts are the
// thread participants used for automatic linking (M7) and for the reply
// check (M5).
//
// The package is pure: no database, no network, no logging, no global state
// beyond the charset registry of go-message. Parse never fails a whole
// message for one bad header or part; it fails only for empty, oversize,
// headerless garbage or over-complex input, with the sentinel errors
// ErrEmpty, ErrTooLarge, ErrMalformed and ErrTooComplex (wrapped, test with
// errors.Is). Every string it returns is valid UTF-8 without NUL bytes, so it
// can go into PostgreSQL text columns and protobuf strings as is.
package mime
