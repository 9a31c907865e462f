// Package server holds the mailbox's gRPC handlers: each validates its
// request, checks the caller from the token, calls the store and maps the
// result to a status with a documented ErrorReason.
//
// The access rules live here: a user's own mailbox methods never reach
// another user's data (M1); other users' threads are reached only through
// an item's detail view (itemview.go), and only when shared, linked to the
// item, and the item is visible to the caller according to the visibility
// service, asked once per call (M2); when visibility cannot answer, those
// calls fail with UNAVAILABLE rather than showing less or more (fail
// closed). CheckReplyPermission adds M5; LinkThread M7; the secrets of mail
// accounts are sealed with pkg/secretbox and never returned (S5).
package server
