package servicetest

import "testing"

// Result is a call's outcome; Try(client.Method(ctx, req)).Must(t) fails
// the test on an error and returns the response.
type Result[T any] struct {
	v   T
	err error
}

// Try holds a call's two results.
func Try[T any](v T, err error) Result[T] { return Result[T]{v, err} }

// Must returns the response, or fails the test with the call's error.
func (r Result[T]) Must(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}
