// Package aip holds the request conventions of Google's API Improvement
// Proposals that both services follow: update masks (AIP-134) and pagination
// with page_size and opaque page_token (AIP-158).
//
// A page token is a cursor (a few int64 keys) plus a fingerprint of the
// request it was issued for, with a checksum, base64url-encoded. A token
// altered, truncated or reused with other filters is INVALID_ARGUMENT. Tokens
// carry no secret: the company always comes from the caller's credentials,
// so a forged cursor can only skip within the caller's own data.
package aip
