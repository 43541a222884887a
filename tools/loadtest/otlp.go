package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// sink is an OTLP/HTTP receiver that accepts and discards: it answers every
// export with an empty (valid) protobuf response, as a collector that keeps
// up would, and only counts what arrived. Decoding is left out on purpose:
// a real collector runs elsewhere, and its CPU is not the service's cost.
// internal/telemetry/otlptest decodes, but needs a *testing.T.
type sink struct {
	URL             string
	traces, metrics atomic.Int64
	bytes           atomic.Int64
	srv             *http.Server
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{URL: "http://" + l.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	s.bytes.Add(n)
	switch {
	case strings.HasSuffix(r.URL.Path, "/v1/traces"):
		s.traces.Add(1)
	case strings.HasSuffix(r.URL.Path, "/v1/metrics"):
		s.metrics.Add(1)
	}
	// An empty Export*ServiceResponse encodes to zero bytes.
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (s *sink) exports() int64 { return s.traces.Load() + s.metrics.Load() }

func (s *sink) close() { _ = s.srv.Close() }
