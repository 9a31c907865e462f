// Package server holds the visibility service's gRPC handlers. Each handler
// validates its request, checks what the caller may do, calls the store (for
// writes) or the engine (for decisions) and maps the result; errors become
// statuses in one place (errors.go).
//
// Who may call what:
//   - every request is scoped to the caller's company from the token (V9):
//     ids of another company simply do not exist here (NOT_FOUND);
//   - management (company, users, groups, memberships, pipelines) needs a
//     service principal or a user with account settings access (V6); an app
//     admin (account admin) has account settings access;
//   - item writes: a service principal naming the acting user, or a user
//     acting for itself on items it can see (V5, V8);
//   - decisions: a user may ask only about itself, a service about any user.
package server
