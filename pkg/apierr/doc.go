// Package apierr is the one boundary where errors become gRPC statuses.
//
// Domain code returns *Error values built with the constructors here (or plain
// errors for failures it does not expect). [Error] carries a canonical code and a
// google.rpc.ErrorInfo reason/domain, plus BadRequest field violations or
// QuotaFailure violations when they apply. [ToStatus] turns any error into a
// status: an *Error keeps its code and details; context errors become CANCELLED
// or DEADLINE_EXCEEDED; anything else becomes a bare INTERNAL whose text never
// reaches the client (the server logs it under the request id instead).
package apierr
