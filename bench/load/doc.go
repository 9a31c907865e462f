// Package load drives the running Sightline services over gRPC to measure
// them: it seeds a data set through the public API, runs each scenario at
// fixed concurrency for a fixed time on one shared connection, and reports
// rate, p50/p95/p99 and errors beside the rate of an empty unary call (the
// ceiling for any single call) measured in the same run. The mailbox data
// set's background volume is the one exception to seeding through the API:
// it is written with SQL into the mailbox schema (see SeedMailbox).
package load
