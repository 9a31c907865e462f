// Package threading holds the pure threading rules of the mailbox service
// (DESIGN.md rule S3): a message joins an existing thread by Message-ID /
// In-Reply-To / References first (ReferenceKeys gives the ids to look up),
// and otherwise by the same normalized subject with two or more common
// participants (NormalizeSubject, ParticipantKeys, CommonCount and
// ChooseBySubject, which decides among candidate threads the ingest path
// loaded from the database).
//
// The package is pure: no database, no network, no logging. Every function
// is deterministic and safe for concurrent use.
package threading
