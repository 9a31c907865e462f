// Package grpcserver owns the gRPC server both services run: the interceptor
// chain, grpc.health.v1, reflection, Prometheus metrics on their own HTTP port,
// and a graceful Run.
//
// Interceptors run in this order, outermost first:
//
//  1. request id — every later line of the call carries it;
//  2. logging    — one line per call with method, code, duration, principal;
//  3. metrics    — grpc_server_* counters and latency histograms;
//  4. recovery   — a handler panic becomes INTERNAL (the panic text stays in the log);
//  5. errors     — domain errors keep their code and ErrorInfo, database outages
//     become UNAVAILABLE, anything else a bare INTERNAL (see package apierr);
//  6. auth       — a verified bearer token, except for health and reflection.
//
// Recovery sits inside logging and metrics (rather than outermost) so that a
// panic is logged with its request id and counted as INTERNAL like any other
// failed call. Health reports SERVING only while the readiness check (the
// database ping) passes. On shutdown: NOT_SERVING, a short drain so load
// balancers stop sending, GracefulStop, and Stop after a grace period.
package grpcserver
