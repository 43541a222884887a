package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// openAPIFile is the API's contract, written by hand and checked against
// the handlers by the contract tests (internal/web/contract); the front
// end's TypeScript types are generated from it (make test-frontend).
//
//go:embed openapi.json
var openAPIFile []byte

// OpenAPIPath is where the document is served, to anyone: the contract is
// no secret (it is in the source), and client teams fetch it unsigned.
const OpenAPIPath = "/api/openapi.json"

// OpenAPIDocument returns the committed document, as the contract tests
// check every /api answer against it.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIFile) }

// isOpenAPIDocument reports a read of the document, which needs no identity.
func isOpenAPIDocument(r *http.Request) bool {
	return r.URL.Path == OpenAPIPath && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// apiDocument serves the document with info.version set to the build's.
func (s *site) apiDocument(w http.ResponseWriter, r *http.Request) {
	body, err := s.openAPI()
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	_ = writeBody(w, http.StatusOK, jsonType, body)
}

// servedDocument is the committed document with info.version replaced,
// every other member in its place and the file's two-space indentation, so
// what is served reads like what is reviewed.
func servedDocument(version string) ([]byte, error) {
	v, err := json.Marshal(version)
	if err != nil {
		return nil, err
	}
	doc, err := replaceMember(openAPIFile, "info", func(info json.RawMessage) (json.RawMessage, error) {
		return replaceMember(info, "version", func(json.RawMessage) (json.RawMessage, error) { return v, nil })
	})
	if err != nil {
		return nil, fmt.Errorf("web: openapi.json: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return nil, fmt.Errorf("web: openapi.json: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// replaceMember returns the JSON object obj, compacted, with the value of
// member name replaced by f's result; the members keep their order.
func replaceMember(obj []byte, name string, f func(json.RawMessage) (json.RawMessage, error)) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		if key == name {
			found = true
			if value, err = f(value); err != nil {
				return nil, err
			}
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		if err := json.Compact(&out, value); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if !found {
		return nil, fmt.Errorf("no member %q", name)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
