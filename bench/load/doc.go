// Package load drives the running Sightline services over gRPC to measure
// them: it seeds a data set through the public API, runs each scenario at
// fixed concurrency for a fixed time on one shared connection, and reports
// rate, p50/p95/p99 and errors beside the rate of an empty unary call (the
// ceiling for any single call) measured just before it in the same run.
// With several runs (Repeat, Paired) the figures are the medians of the
// runs' and the ratios the medians of the runs' ratios.
//
// The mailbox data set's background volume is the one exception to seeding
// through the API: it is written with SQL into the mailbox schema (see
// SeedMailbox). MemoryScenario reads the visibility's resident size from its
// Prometheus endpoint before and after it loads many small companies.
// IntakeScenarios measures mail intake (issue 5) against a Dovecot it fills
// over IMAP and the mailbox's Smart Bcc SMTP listener, each beside its raw
// protocol ceiling; Soak holds a fixed mixed rate for a set time (issue 8).
package load
