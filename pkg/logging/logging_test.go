package logging

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/codes"
)

func TestLevelFor(t *testing.T) {
	quiet := quietSet([]string{"/svc/Hot"})
	cases := []struct {
		method string
		code   codes.Code
		want   zapcore.Level
	}{
		{"/svc/Hot", codes.OK, zapcore.DebugLevel},
		{"/svc/Hot", codes.NotFound, zapcore.InfoLevel},
		{"/svc/Hot", codes.Internal, zapcore.ErrorLevel},
		{"/svc/Cold", codes.OK, zapcore.InfoLevel},
		{"/svc/Cold", codes.Unavailable, zapcore.WarnLevel},
		{"/grpc.health.v1.Health/Check", codes.OK, zapcore.DebugLevel},
		{"/grpc.health.v1.Health/Check", codes.Internal, zapcore.ErrorLevel},
	}
	for _, c := range cases {
		if got := levelFor(c.method, c.code, quiet); got != c.want {
			t.Errorf("levelFor(%s, %v) = %v, want %v", c.method, c.code, got, c.want)
		}
	}
}

func TestNewRefusesBadSettingsAndWritesJSON(t *testing.T) {
	var buf bytes.Buffer
	if _, err := New(&buf, "xml", "info"); err == nil {
		t.Fatal("accepted format xml")
	}
	if _, err := New(&buf, "json", "loud"); err == nil {
		t.Fatal("accepted level loud")
	}
	l, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("shown")
	if out := buf.String(); !strings.Contains(out, `"msg":"shown"`) || strings.Contains(out, "hidden") {
		t.Fatalf("log output %q", out)
	}
}
