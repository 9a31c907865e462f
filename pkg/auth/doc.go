// Package auth owns who the caller is. Every RPC except health and reflection
// needs a bearer token in the `authorization` metadata: a JWT (golang-jwt/v5)
// signed with one of the configured keys, naming its principal — a user (user
// id + company id) or a service (service name + the company it acts for). The
// interceptor verifies the token and puts the [Principal] in the context; a
// request body never decides who the caller is.
//
// Keys are configured as a comma-separated list of `kid=alg:base64` entries:
// `hs256` takes a shared secret (at least 32 bytes), `ed25519` a raw 32-byte
// public key for verification or a 32-byte seed (private key) for signing.
// Tokens name their key in the `kid` header, so keys can rotate: add the new
// key, sign with it, drop the old one when its tokens have expired.
package auth
