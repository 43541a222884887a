package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingWriter keeps what was written and how many calls it took.
type recordingWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	calls int
	err   error
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.err != nil {
		return 0, w.err
	}
	return w.buf.Write(p)
}

func (w *recordingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *recordingWriter) Calls() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogWriterKeepsLinesWholeAndInOrder(t *testing.T) {
	t.Parallel()
	out := &recordingWriter{}
	w := NewLogWriter(out)
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				// Lines of different lengths, some long, so batches end mid-stream.
				fmt.Fprintf(w, "%d %d %s\n", g, i, strings.Repeat("x", i%300))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("got %d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var g, i int
		var xs string
		if _, err := fmt.Sscanf(l, "%d %d %s", &g, &i, &xs); err != nil && i%300 != 0 {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] || len(xs) != i%300 {
			t.Fatalf("writer %d: line %d (%d x) where line %d was due", g, i, len(xs), next[g])
		}
		next[g]++
	}
	if calls := out.Calls(); calls >= writers*lines {
		t.Errorf("%d writes for %d lines: nothing was batched", calls, writers*lines)
	}
}

func TestLogWriterWritesIdleLinesWithoutClose(t *testing.T) {
	t.Parallel()
	out := &recordingWriter{}
	w := NewLogWriter(out)
	t.Cleanup(func() { _ = w.Close() })
	fmt.Fprintln(w, "one line, then nothing")
	waitUntil(t, "a lone line written", func() bool { return out.String() != "" })
	if got := out.String(); got != "one line, then nothing\n" {
		t.Errorf("wrote %q", got)
	}
}

func TestLogWriterWritesItselfWhenFull(t *testing.T) {
	t.Parallel()
	out := &recordingWriter{}
	w := newLogWriter(out) // no background goroutine: only a full buffer writes
	line := []byte(strings.Repeat("y", 1023) + "\n")
	n := 0
	for out.String() == "" {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
		n++
		if n*len(line) > 2*maxPendingLog {
			t.Fatal("the buffer grew past its limit without writing")
		}
	}
	if n*len(line) < maxPendingLog || out.String() != strings.Repeat(string(line), n) {
		t.Errorf("after %d lines wrote %d bytes; want all of them, at the limit", n, len(out.String()))
	}
}

// Close writes what is pending, with or without the background goroutine;
// lines after it go straight through, in order; a second Close is harmless.
func TestLogWriterClose(t *testing.T) {
	t.Parallel()
	for name, newWriter := range map[string]func(io.Writer) *LogWriter{
		"with goroutine": NewLogWriter, "without": newLogWriter,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := &recordingWriter{}
			w := newWriter(out)
			fmt.Fprintln(w, "before")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(w, "after")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != "before\nafter\n" {
				t.Errorf("wrote %q", got)
			}
		})
	}
}

func TestLogWriterReportsWriteErrors(t *testing.T) {
	t.Parallel()
	broken := errors.New("pipe closed")
	out := &recordingWriter{err: broken}
	w := NewLogWriter(out)
	if _, err := fmt.Fprintln(w, "lost"); err != nil {
		t.Fatalf("Write = %v; errors belong to Flush and Close", err)
	}
	// The background goroutine meets the error; Close still reports it.
	waitUntil(t, "the background write", func() bool { return out.Calls() > 0 })
	if err := w.Close(); !errors.Is(err, broken) {
		t.Errorf("Close = %v, want %v", err, broken)
	}
	if err := w.Close(); !errors.Is(err, broken) {
		t.Errorf("second Close = %v, want %v", err, broken)
	}
}

// Error lines are the ones wanted after a crash: the handler flushes them
// before returning, and whatever was queued before them.
func TestLogHandlerFlushesErrorLines(t *testing.T) {
	t.Parallel()
	out := &recordingWriter{}
	w := newLogWriter(out)
	log := slog.New(NewLogHandler(w, LogOptions{}))
	log.Info("queued")
	if out.String() != "" {
		t.Fatalf("an info line was written at once: %q", out.String())
	}
	log.ErrorContext(context.Background(), "failed")
	lines := decodeLines(t, out.String())
	if len(lines) != 2 || lines[0]["message"] != "queued" || lines[1]["message"] != "failed" {
		t.Errorf("after the error line, written: %v", lines)
	}
}
