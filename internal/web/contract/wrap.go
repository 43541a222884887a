package contract

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"
)

// Wrap returns h with every /api answer checked: a breach of the document
// fails t (from any goroutine; Errorf, not Fatal). The answer reaches the
// client unchanged, as h wrote it.
func (c *Checker) Wrap(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsAPI(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		reqBody := bufferBody(r)
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if err := c.Check(r, reqBody, rec.response(r)); err != nil {
			t.Errorf("%v", err)
		}
	})
}

// Proxy returns a reverse proxy to target that checks every /api answer
// passing through, for end-to-end tests of a real server binary. The Host
// header is kept, so the server's same-origin checks see the browser's
// origin.
func (c *Checker) Proxy(t testing.TB, target *url.URL) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(res *http.Response) error {
			// The outgoing request's body is spent; its context still
			// holds the copy taken on the way in.
			reqBody, _ := res.Request.Context().Value(bodyKey{}).([]byte)
			if err := c.Check(res.Request, reqBody, res); err != nil {
				t.Errorf("%v", err)
			}
			return nil
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsAPI(r.URL.Path) {
			b := bufferBody(r)
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
		}
		rp.ServeHTTP(w, r)
	})
}

// bodyKey carries the request body as sent through the proxy's context.
type bodyKey struct{}

// bufferBody reads r's body into memory and gives r a copy to read. A read
// error is kept for the handler to meet, at the same place.
func bufferBody(r *http.Request) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	var rest io.Reader = bytes.NewReader(b)
	if err != nil {
		rest = io.MultiReader(rest, errReader{err})
	}
	r.Body = io.NopCloser(rest)
	return b
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// recorder passes an answer through while keeping a copy: the status, the
// headers as they were when it was sent, and the body.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) response(req *http.Request) *http.Response {
	if r.status == 0 { // the handler wrote nothing: net/http sends 200
		r.WriteHeader(http.StatusOK)
	}
	return &http.Response{
		StatusCode: r.status,
		Header:     r.header,
		Body:       io.NopCloser(bytes.NewReader(r.body.Bytes())),
		Request:    req,
	}
}
