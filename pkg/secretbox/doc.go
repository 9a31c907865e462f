// Package secretbox encrypts small secrets at rest (DESIGN S5: mail provider
// passwords and OAuth tokens) with AES-256-GCM from the standard library.
//
// A Box holds one or more 32-byte keys, each with an id. Seal always uses the
// first key; Open uses whichever key the sealed value names, so keys can be
// rotated: put the new key first, keep the old ones until every value has been
// sealed again, then drop them. A sealed value is
//
//	0x01 | len(kid) | kid | 12-byte random nonce | ciphertext and 16-byte tag
//
// The version byte, key id and the caller's associated data (for example the
// row the secret belongs to) are authenticated, so a value tampered with,
// opened under another key, or moved to another row fails to open.
//
// Keys come from configuration as "kid=base64(32 bytes)", comma-separated
// (ParseKeys). No error message of this package contains key material or
// plaintext.
package secretbox
