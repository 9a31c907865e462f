package servicetest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Invoke calls the method md with req over conn, whatever the method, and
// returns its response (a new message of the method's output type): tests
// that walk every method of a service descriptor call them through it.
func Invoke(ctx context.Context, conn *grpc.ClientConn, md protoreflect.MethodDescriptor, req proto.Message) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil, err
	}
	resp := mt.New().Interface()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	method := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	return resp, conn.Invoke(ctx, method, req, resp)
}

// CheckCoverage fails t unless methods names every method of sd and no
// other: a table of expectations over a service (an authorization matrix)
// cannot miss a method added later.
func CheckCoverage(t *testing.T, sd protoreflect.ServiceDescriptor, methods []string) {
	t.Helper()
	have := map[string]bool{}
	for _, m := range methods {
		if sd.Methods().ByName(protoreflect.Name(m)) == nil {
			t.Errorf("the matrix has a row for %s, which %s does not have", m, sd.FullName())
		}
		have[m] = true
	}
	for i := 0; i < sd.Methods().Len(); i++ {
		if m := string(sd.Methods().Get(i).Name()); !have[m] {
			t.Errorf("%s.%s has no row in the authorization matrix: add one saying who may call it", sd.FullName(), m)
		}
	}
}
