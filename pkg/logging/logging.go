package logging

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a logger writing JSON ("json") or human-readable ("console")
// lines at level to w (os.Stderr in the binaries; a buffer in tests).
func New(w io.Writer, format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	var enc zapcore.Encoder
	switch format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "time"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	// No sampling: every call's line matters when debugging one request.
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), zap.NewAtomicLevelAt(lvl))
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.DPanicLevel)), nil
}

type loggerKey struct{}

// WithLogger returns ctx carrying l; handlers get it back with FromContext.
func WithLogger(ctx context.Context, l *zap.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the call's logger (with its request id), or a no-op logger.
func FromContext(ctx context.Context) *zap.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zap.Logger); ok {
		return l
	}
	return zap.NewNop()
}

// callFields collects fields that inner interceptors and handlers add to the
// call's final log line (the principal, for example).
type callFields struct{ fields []zap.Field }

type callFieldsKey struct{}

// AddFields adds fields to the current call's final log line and to the
// context logger seen by code running after it.
func AddFields(ctx context.Context, fields ...zap.Field) context.Context {
	if cf, ok := ctx.Value(callFieldsKey{}).(*callFields); ok {
		cf.fields = append(cf.fields, fields...)
	}
	return WithLogger(ctx, FromContext(ctx).With(fields...))
}
