package telemetry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// LevelCritical is above slog.LevelError; Cloud Logging shows it as CRITICAL.
// Recovered panics use it.
const LevelCritical = slog.Level(12)

// Cloud Logging's special JSON keys; see
// https://cloud.google.com/logging/docs/structured-logging#special-payload-fields
const (
	keyTrace          = "logging.googleapis.com/trace"
	keySpanID         = "logging.googleapis.com/spanId"
	keyTraceSampled   = "logging.googleapis.com/trace_sampled"
	keySourceLocation = "logging.googleapis.com/sourceLocation"
)

// LogOptions configures NewLogHandler.
type LogOptions struct {
	// Level is the minimum level written (LOG_LEVEL); nil means Info.
	Level slog.Leveler
	// Format is "json" (Cloud Logging, the default) or "text" (local runs).
	Format string
	// ProjectID completes the trace field, projects/PROJECT/traces/TRACE_ID.
	// Without it the trace field is left out (Cloud Logging would not link
	// a bare id) and trace_id is written instead.
	ProjectID string
}

// NewLogHandler returns a slog.Handler writing to w. In JSON format every
// line is a Cloud Logging structured entry: severity, message, time,
// sourceLocation, and, when the context carries a span, the trace, spanId
// and trace_sampled fields that link the line to Cloud Trace. When w is a
// LogWriter, every line at level Error and above (panics, failures, 5xx
// request lines) is flushed before the call returns, with all before it.
func NewLogHandler(w io.Writer, o LogOptions) slog.Handler {
	level := o.Level
	if level == nil {
		level = slog.LevelInfo
	}
	f, _ := w.(*LogWriter)
	if o.Format == "text" {
		return &traceHandler{
			flusher: f,
			inner:   slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: textLevel}),
		}
	}
	return &traceHandler{
		flusher: f,
		project: o.ProjectID,
		json:    true,
		sources: new(sourceCache),
		// The source location is added by traceHandler, not AddSource,
		// which resolves the caller's file and function anew for every
		// line: sourceCache does it once per call site.
		inner: slog.NewJSONHandler(w, &slog.HandlerOptions{
			Level:       level,
			ReplaceAttr: cloudLoggingAttr,
		}),
	}
}

// sourceCache holds the sourceLocation value of each logging call site.
// There are as many as there are log calls in the binary.
type sourceCache struct{ m sync.Map } // program counter -> slog.Value

// value is Cloud Logging's LogEntrySourceLocation for pc, as slog's
// AddSource writes it: {"function", "file", "line"}.
func (c *sourceCache) value(pc uintptr) slog.Value {
	if v, ok := c.m.Load(pc); ok {
		return v.(slog.Value)
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	// Empty fields left out, as slog's own source group does.
	var attrs []slog.Attr
	if f.Function != "" {
		attrs = append(attrs, slog.String("function", f.Function))
	}
	if f.File != "" {
		attrs = append(attrs, slog.String("file", f.File))
	}
	if f.Line != 0 {
		attrs = append(attrs, slog.Int("line", f.Line))
	}
	v := slog.GroupValue(attrs...)
	c.m.Store(pc, v)
	return v
}

// cloudLoggingAttr renames slog's built-in keys to Cloud Logging's.
func cloudLoggingAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		return slog.String("severity", severity(a.Value.Any().(slog.Level)))
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}

func textLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey && a.Value.Any().(slog.Level) >= LevelCritical {
		return slog.String(slog.LevelKey, "CRITICAL")
	}
	return a
}

// severity maps slog levels to Cloud Logging's LogSeverity names.
func severity(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// traceHandler adds the span of the record's context as top-level fields.
// The fields must stay at the top level even under WithGroup, so the handler
// remembers the WithAttrs/WithGroup calls and replays them on a handler that
// already holds the trace fields when a group is open.
type traceHandler struct {
	inner   slog.Handler // with all WithAttrs/WithGroup applied
	root    slog.Handler // before any WithGroup; nil when no group is open
	ops     []func(slog.Handler) slog.Handler
	project string
	json    bool
	sources *sourceCache // shared by the handler and its WithAttrs/WithGroup copies
	flusher *LogWriter   // the destination, when it is one
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.handle(ctx, r)
	if h.flusher != nil && r.Level >= slog.LevelError {
		// The lines most wanted after a crash are the ones just before it.
		err = errors.Join(err, h.flusher.Flush())
	}
	return err
}

func (h *traceHandler) handle(ctx context.Context, r slog.Record) error {
	if !h.json {
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return h.inner.Handle(ctx, r)
		}
		return h.handleWith(ctx, r, []slog.Attr{
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
		})
	}
	var attrs []slog.Attr
	if r.PC != 0 {
		attrs = append(attrs, slog.Attr{Key: keySourceLocation, Value: h.sources.value(r.PC)})
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		if h.project != "" {
			attrs = append(attrs, slog.String(keyTrace, "projects/"+h.project+"/traces/"+sc.TraceID().String()))
		} else {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		attrs = append(attrs,
			slog.String(keySpanID, sc.SpanID().String()),
			slog.Bool(keyTraceSampled, sc.IsSampled()),
		)
	}
	return h.handleWith(ctx, r, attrs)
}

// handleWith writes r with attrs at the top level of the line, also when
// a group is open. That case rebuilds the handler chain for every line;
// nothing in the service logs through WithGroup today.
func (h *traceHandler) handleWith(ctx context.Context, r slog.Record, attrs []slog.Attr) error {
	if len(attrs) == 0 {
		return h.inner.Handle(ctx, r)
	}
	if h.root == nil {
		r.AddAttrs(attrs...)
		return h.inner.Handle(ctx, r)
	}
	target := h.root.WithAttrs(attrs)
	for _, op := range h.ops {
		target = op(target)
	}
	return target.Handle(ctx, r)
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	if h.root != nil {
		c.ops = append(append([]func(slog.Handler) slog.Handler(nil), h.ops...),
			func(x slog.Handler) slog.Handler { return x.WithAttrs(attrs) })
	}
	return &c
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	if h.root == nil {
		c.root = h.inner
	}
	c.inner = h.inner.WithGroup(name)
	c.ops = append(append([]func(slog.Handler) slog.Handler(nil), h.ops...),
		func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
	return &c
}
