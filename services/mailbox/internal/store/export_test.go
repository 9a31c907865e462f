package store

// DedupLookupSQL is ingest's lookup statement, for the plan test.
const DedupLookupSQL = dedupLookupSQL

// TextArray is textArray, for the round-trip test.
var TextArray = textArray

// HashLookupSQL is the batch's lookup by content hash, for the plan test.
const HashLookupSQL = hashLookupSQL

// The other lookups of ingest, for the plan test.
const (
	RefLookupSQL       = refLookupSQL
	ReverseLookupSQL   = reverseLookupSQL
	CandidateLookupSQL = candidateLookupSQL
	SubjectLookupSQL   = subjectLookupSQL
)

// LockKey is the user's ingest lock key, for the tests that hold it.
var LockKey = lockKey
