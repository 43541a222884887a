package telemetry

import (
	"io"
	"runtime"
	"sync"
)

// maxPendingLog is how many bytes of lines LogWriter holds before a writer
// has to write them itself: a logging agent that stops reading slows the
// service down rather than making it drop lines or grow without bound.
const maxPendingLog = 256 << 10

// LogWriter batches log lines on their way to the process's stdout. On
// Cloud Run stdout is a pipe to the logging agent, and batching spares a
// busy service a write system call, and a wake-up of the reader, per
// line. Lines go out from a background goroutine once
// the goroutines already waiting to run have had their turn: on an idle
// instance as soon as the logging goroutine blocks (its request ends, it
// waits for the database) or is preempted; on a busy one, many lines per
// write.
//
// Each Write is kept whole, and Writes reach the destination in the order
// they were made. Lines still pending when the process dies without Close
// are lost, so the log handler flushes after every error line (see
// NewLogHandler), and the server's main calls Close last.
type LogWriter struct {
	out  io.Writer
	kick chan struct{} // holds a token while lines wait for the goroutine
	stop chan struct{}
	done chan struct{} // closed when the goroutine has returned

	mu      sync.Mutex
	pending []byte
	closed  bool

	outMu sync.Mutex // held while writing to out: keeps batches in order
	spare []byte     // the other buffer; only touched under outMu
	err   error      // the first write error; only touched under outMu

	closeOnce sync.Once
	closeErr  error
}

// NewLogWriter returns a LogWriter writing to out. Close it after the last
// line.
func NewLogWriter(out io.Writer) *LogWriter {
	w := newLogWriter(out)
	w.done = make(chan struct{})
	go w.run()
	return w
}

// newLogWriter returns a LogWriter without the background goroutine: it
// writes only when Flush is called or the buffer is full. Tests use it to
// see what is written without the goroutine.
func newLogWriter(out io.Writer) *LogWriter {
	done := make(chan struct{})
	close(done)
	return &LogWriter{
		out:  out,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: done,
	}
}

// Write queues p, which the log handler makes one whole line. Until Close
// it does not fail: a failed write to the destination loses its batch
// (there is nowhere else to put it) and is reported by Flush and Close.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.outMu.Lock()
		defer w.outMu.Unlock()
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
		return w.out.Write(p)
	}
	first := len(w.pending) == 0
	w.pending = append(w.pending, p...)
	full := len(w.pending) >= maxPendingLog
	w.mu.Unlock()

	switch {
	case full:
		_ = w.Flush()
	case first:
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes the pending lines now, in one call. It returns the first
// write error since the LogWriter was made, also one met by the background
// goroutine.
func (w *LogWriter) Flush() error {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return w.flushLocked()
}

func (w *LogWriter) flushLocked() error {
	w.mu.Lock()
	batch := w.pending
	w.pending = w.spare[:0]
	w.mu.Unlock()
	if len(batch) > 0 {
		if _, err := w.out.Write(batch); err != nil && w.err == nil {
			w.err = err
		}
	}
	if cap(batch) <= 4*maxPendingLog {
		w.spare = batch[:0]
	} else {
		w.spare = nil // a burst of huge lines: let the memory go
	}
	return w.err
}

// Close stops the background goroutine and writes what is pending; every
// call returns once that is done. Lines written after Close go straight to
// the destination.
func (w *LogWriter) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.stop)
		<-w.done
		w.closeErr = w.Flush()
	})
	return w.closeErr
}

func (w *LogWriter) run() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
		// Let the goroutines that are ready to run (other requests, on a
		// busy instance) add their lines first; an idle process comes
		// straight back.
		runtime.Gosched()
		_ = w.Flush()
	}
}
