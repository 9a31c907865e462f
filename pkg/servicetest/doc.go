// Package servicetest runs a Sightline service in-process for tests and
// benchmarks, exactly as its binary does (cli.Run with flags), on a real
// loopback listener, and mints tokens for any principal. Its logs are kept in
// memory so tests can search them.
package servicetest
