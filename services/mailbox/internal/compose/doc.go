// Package compose builds the RFC 5322 messages SendThreadMessage sends
// (DESIGN M5): replies, replies to all and forwards of a stored message.
// It decides the recipients of each mode, the "Re:"/"Fwd:" subject without
// stacking prefixes, In-Reply-To and References (so that every mailbox
// threads the answer with the original), a fresh Message-ID at the sending
// account's domain, the quoted original or the forwarded-message block, and
// re-attaches the original's attachments taken from its raw form. Encodings
// of non-ASCII names, subjects and bodies are go-message's (RFC 2047 words,
// quoted-printable, base64).
//
// It does no I/O: fetching the original from the provider, sending and
// storing are the server's.
package compose
