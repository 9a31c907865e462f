// Package grpcclient owns how one Sightline service calls another: Dial
// returns a *grpc.ClientConn (grpc.NewClient, so it connects lazily and never
// blocks) with
//
//   - a default per-call deadline for unary calls whose context has none;
//   - retries of UNAVAILABLE only, through gRPC's own service-config
//     retryPolicy (3 attempts, exponential backoff from 50 ms to 500 ms), which
//     retries only calls that never reached the server's handler or that the
//     server refused as a whole, and respects the call's deadline;
//   - Prometheus client metrics (go-grpc-middleware's providers/prometheus)
//     registered on the caller's registry;
//   - insecure transport credentials by default; WithTransportCredentials
//     switches to TLS when the deployment has it.
package grpcclient
