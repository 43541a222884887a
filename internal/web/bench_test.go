package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/items"
)

// Benchmarks of the handler chain in process (no network): go test
// -bench . -benchmem ./internal/web. tools/loadtest measures whole servers.

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
