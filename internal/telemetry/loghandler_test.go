package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func spanContext(t *testing.T, sampled bool) context.Context {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	var flags trace.TraceFlags
	if sampled {
		flags = trace.FlagsSampled
	}
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: flags,
	}))
}

func TestLogHandlerCloudLoggingFields(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{ProjectID: "my-proj"}))
	log.InfoContext(spanContext(t, true), "hello", "k", "v")

	lines := decodeLines(t, buf.String())
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	l := lines[0]
	want := map[string]any{
		"severity":                             "INFO",
		"message":                              "hello",
		"k":                                    "v",
		"logging.googleapis.com/trace":         "projects/my-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736",
		"logging.googleapis.com/spanId":        "00f067aa0ba902b7",
		"logging.googleapis.com/trace_sampled": true,
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %#v, want %#v", k, l[k], v)
		}
	}
	if _, ok := l["time"].(string); !ok {
		t.Errorf("time missing: %v", l)
	}
	for _, k := range []string{"level", "msg", "source"} {
		if _, ok := l[k]; ok {
			t.Errorf("slog key %q should have been renamed: %v", k, l)
		}
	}
	src, ok := l["logging.googleapis.com/sourceLocation"].(map[string]any)
	if !ok || !strings.HasSuffix(src["file"].(string), "loghandler_test.go") || src["line"].(float64) <= 0 ||
		!strings.Contains(src["function"].(string), "TestLogHandlerCloudLoggingFields") {
		t.Errorf("sourceLocation = %#v", l["logging.googleapis.com/sourceLocation"])
	}
}

func TestLogHandlerSeverities(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, LevelCritical} {
		log.Log(ctx, l, "x")
	}
	var got []string
	for _, line := range decodeLines(t, buf.String()) {
		got = append(got, line["severity"].(string))
	}
	want := "DEBUG INFO WARNING ERROR CRITICAL"
	if strings.Join(got, " ") != want {
		t.Errorf("severities = %v, want %s", got, want)
	}
}

func TestLogHandlerLevelFilters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{Level: slog.LevelWarn}))
	log.Info("dropped")
	log.Warn("kept")
	lines := decodeLines(t, buf.String())
	if len(lines) != 1 || lines[0]["message"] != "kept" {
		t.Errorf("lines = %v, want only the warning", lines)
	}
}

func TestLogHandlerTraceFieldsStayTopLevelInGroups(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{ProjectID: "p"})).
		With("a", 1).WithGroup("g").With("b", 2)
	log.InfoContext(spanContext(t, false), "grouped", "c", 3)

	l := decodeLines(t, buf.String())[0]
	if l["logging.googleapis.com/trace"] != "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace not at top level: %v", l)
	}
	if l["logging.googleapis.com/trace_sampled"] != false {
		t.Errorf("trace_sampled = %v, want false", l["logging.googleapis.com/trace_sampled"])
	}
	g, _ := l["g"].(map[string]any)
	if l["a"] != float64(1) || g["b"] != float64(2) || g["c"] != float64(3) {
		t.Errorf("attributes misplaced: %v", l)
	}
}

func TestLogHandlerWithoutProjectOrSpan(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{}))
	log.InfoContext(spanContext(t, true), "no project")
	log.Info("no span")
	lines := decodeLines(t, buf.String())
	if _, ok := lines[0]["logging.googleapis.com/trace"]; ok {
		t.Errorf("trace field without a project id: %v", lines[0])
	}
	if lines[0]["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace_id = %v", lines[0]["trace_id"])
	}
	for _, k := range []string{"trace_id", "logging.googleapis.com/spanId"} {
		if _, ok := lines[1][k]; ok {
			t.Errorf("line without span has %s: %v", k, lines[1])
		}
	}
}

func TestLogHandlerText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{Format: "text"}))
	log.InfoContext(spanContext(t, true), "readable", "k", "v")
	log.Log(context.Background(), LevelCritical, "bad")
	out := buf.String()
	for _, want := range []string{"level=INFO", "msg=readable", "k=v", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "level=CRITICAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "{") {
		t.Errorf("text output looks like JSON:\n%s", out)
	}
}

// The source location is cached per call site: each line must still name
// its own, also with a group open.
func TestLogHandlerSourceLocationPerCallSite(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, LogOptions{}))
	grouped := log.WithGroup("g")
	for range 2 {
		log.Info("first site")
		log.Info("second site")
		grouped.Info("grouped site", "k", "v")
	}
	lines := decodeLines(t, buf.String())
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want 6", len(lines))
	}
	lineOf := func(l map[string]any) float64 {
		t.Helper()
		src, ok := l["logging.googleapis.com/sourceLocation"].(map[string]any)
		if !ok || !strings.HasSuffix(src["file"].(string), "loghandler_test.go") ||
			!strings.HasSuffix(src["function"].(string), "TestLogHandlerSourceLocationPerCallSite") {
			t.Fatalf("sourceLocation missing or wrong (not at the top level?): %v", l)
		}
		return src["line"].(float64)
	}
	first, second, third := lineOf(lines[0]), lineOf(lines[1]), lineOf(lines[2])
	if second != first+1 || third != first+2 {
		t.Errorf("lines %v %v %v, want three consecutive ones", first, second, third)
	}
	for i, l := range lines[3:] {
		if got, want := lineOf(l), lineOf(lines[i]); got != want {
			t.Errorf("repeat of site %d: line %v, want %v", i, got, want)
		}
	}
}
