package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/items"
)

// Benchmarks of the handler chain in process: go test -bench . -benchmem
// ./internal/web. The Serve ones put a real net/http server and a loopback
// connection in front; tools/loadtest measures whole servers.

func BenchmarkHealthz(b *testing.B) {
	a := newApp(b, nil)
	benchGET(b, a.handler, "/healthz")
}

func BenchmarkAPIList50(b *testing.B) {
	a := newApp(b, nil)
	seed50(b, a)
	benchGET(b, a.handler, "/api/items?limit=50")
}

// BenchmarkBareList50 is the reference for BenchmarkAPIList50: the same
// query, scanned and encoded by hand with pgx and encoding/json, with no
// middleware, validation or error mapping.
func BenchmarkBareList50(b *testing.B) {
	a := newApp(b, nil)
	seed50(b, a)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rows, err := a.pool.Query(r.Context(), `SELECT id, name, description, created_by, created_at, updated_by, updated_at, version
			FROM items ORDER BY created_at DESC, id DESC LIMIT 51`)
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[items.Item])
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		body, _ := json.Marshal(struct {
			Items []items.Item `json:"items"`
		}{list[:50]})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	benchGET(b, h, "/api/items?limit=50")
}

// BenchmarkServeHealthz and BenchmarkServeAPIList50 answer over a real
// connection, so they also count what net/http does with the header map
// and the body (which the recorder of the others skips).
func BenchmarkServeHealthz(b *testing.B) {
	a := newApp(b, nil)
	benchServe(b, a.handler, "/healthz")
}

func BenchmarkServeAPIList50(b *testing.B) {
	a := newApp(b, nil)
	seed50(b, a)
	benchServe(b, a.handler, "/api/items?limit=50")
}

// benchServe measures one GET of target through h behind an http.Server,
// over one keep-alive connection in memory (net.Pipe: no system calls to
// drown the server's own work). The client reads the response by hand
// (status line, headers, Content-Length bytes) and allocates nothing.
func benchServe(b *testing.B, h http.Handler, target string) {
	client, server := net.Pipe()
	srv := &http.Server{Handler: h}
	l := &oneConnListener{conn: server, closed: make(chan struct{})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = client.Close(); _ = srv.Close() })
	req := []byte("GET " + target + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReaderSize(client, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		_ = client.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := client.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if c := l.conn; c != nil {
		l.conn = nil
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// readResponse reads one HTTP/1.1 200 response with a Content-Length.
func readResponse(br *bufio.Reader) error {
	length := -1
	for i := 0; ; i++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		switch {
		case i == 0 && !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")):
			return fmt.Errorf("status line %q", line)
		case len(line) == 2: // the blank line after the headers
			if length < 0 {
				return fmt.Errorf("response without Content-Length")
			}
			_, err := br.Discard(length)
			return err
		case bytes.HasPrefix(line, []byte("Content-Length: ")):
			n, err := strconv.Atoi(string(bytes.TrimSpace(line[len("Content-Length: "):])))
			if err != nil {
				return fmt.Errorf("content-length %q", line)
			}
			length = n
		}
	}
}

// benchGET measures one GET of target through h, which must answer 200.
func benchGET(b *testing.B, h http.Handler, target string) {
	r := httptest.NewRequest("GET", target, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func seed50(b *testing.B, a *testApp) {
	for i := range 50 {
		in := items.Input{Name: fmt.Sprint("item ", i), Description: "a description of moderate length"}
		if _, err := a.store.Create(context.Background(), in, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
