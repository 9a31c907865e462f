// Package logging owns Sightline's structured logs: the zap constructor (JSON
// for production, console for local runs), the request id that every line of a
// call carries, and the per-call log line written by the gRPC interceptor.
//
// Logs never contain secrets, tokens or message bodies: handlers log ids and
// counts, and fields are typed (zap.Int64, zap.String) with static messages.
package logging
