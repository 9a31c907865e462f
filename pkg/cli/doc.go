// Package cli owns the command line both service binaries share:
//
//	<service> serve    serve gRPC (the default when no subcommand is given)
//	<service> migrate  apply the embedded database migrations and exit
//	<service> token    mint a bearer token for local use (grpcurl, tests)
//
// A service supplies its name, schema, migrations, default ports and a Wire
// function that registers its handlers; everything else — configuration,
// logging, the pool, health, metrics, shutdown — is the same for both.
package cli
