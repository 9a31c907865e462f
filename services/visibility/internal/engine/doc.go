// Package engine keeps each company's visibility data in memory and answers
// decisions from it: a policy.Snapshot (groups, memberships, permissions,
// hidden pipelines), rebuilt when structure changes and swapped under a lock,
// plus the company's registry items, updated in place one item at a time.
//
// Every state carries the company version it reflects. A company is loaded on
// first use; after that it is refreshed from the change log — synchronously
// after this replica's own writes, on a NOTIFY for other replicas' writes, and
// on demand when a request asks for a version newer than the one held. A
// decision is therefore never older than the version a caller names.
package engine
