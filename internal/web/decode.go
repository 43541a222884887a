package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"example.com/example-function/internal/items"
)

// MaxBodyBytes bounds every request body; larger ones get 413.
const MaxBodyBytes = 1 << 20

// itemFields are the fields a client may write.
var itemFields = map[string]bool{"name": true, "description": true}

// jsonField is one decoded string field of a request body.
type jsonField struct {
	set   bool // present in the body
	null  bool // present as JSON null
	value string
	// invalidUTF8 marks text the standard decoder would have silently
	// repaired (raw invalid bytes, lone surrogate escapes).
	invalidUTF8 bool
}

// decodeItem reads a JSON object with only writable item fields. It returns
// a problem for anything a client got wrong: 415, 413, 400 for malformed or
// unexpected JSON, 422 (via ValidationError) for invalid UTF-8, which the
// standard decoder would otherwise silently replace.
func decodeItem(w http.ResponseWriter, r *http.Request, allowedTypes ...string) (map[string]jsonField, *problem) {
	if p := checkContentType(r, allowedTypes...); p != nil {
		return nil, p
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &problem{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Title: "Request body too large",
				Detail: fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes)}
		}
		return nil, &problem{Status: http.StatusBadRequest, Type: "malformed-body", Title: "Unreadable body", Detail: "The request body could not be read."}
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, malformed(jsonErrorDetail(err))
	}
	if raw == nil {
		return nil, malformed("The body must be a JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("Unexpected data after the JSON object.")
	}
	if name, dup := duplicateKey(body); dup {
		// Parsers disagree on which copy wins; refuse rather than guess.
		return nil, malformed(fmt.Sprintf("Field %q appears more than once.", truncate(name, 64)))
	}

	fields := make(map[string]jsonField, len(raw))
	var verr items.ValidationError
	for name, value := range raw {
		if !itemFields[name] {
			return nil, malformed(fmt.Sprintf("Unknown or read-only field %q.", truncate(name, 64)))
		}
		f, msg := decodeString(value)
		if msg != "" {
			return nil, malformed(fmt.Sprintf("Field %q %s.", name, msg))
		}
		if f.invalidUTF8 {
			verr.Add(name, "must be valid UTF-8")
			continue
		}
		fields[name] = f
	}
	if len(verr.Fields) > 0 {
		return nil, &problem{Status: http.StatusUnprocessableEntity, Type: "validation", Title: "Invalid item",
			Detail: verr.Error(), Errors: verr.Fields}
	}
	return fields, nil
}

// decodeString decodes a JSON string or null. Invalid UTF-8, raw or as a
// lone surrogate escape, is flagged rather than repaired.
func decodeString(raw json.RawMessage) (jsonField, string) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return jsonField{set: true, null: true}, ""
	}
	if len(raw) == 0 || raw[0] != '"' {
		return jsonField{}, "must be a string"
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return jsonField{}, "must be a string"
	}
	if !utf8.Valid(raw) || replacementCount(s) > literalReplacements(raw) {
		return jsonField{set: true, invalidUTF8: true}, ""
	}
	return jsonField{set: true, value: s}, ""
}

// duplicateKey reports a key that appears twice in the top-level object of
// body, which has already been decoded successfully.
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := tok.(string)
		if seen[key] {
			return key, true
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

func replacementCount(s string) int { return strings.Count(s, string(utf8.RuneError)) }

// literalReplacements counts U+FFFD the client really sent, raw or escaped.
func literalReplacements(raw []byte) int {
	lower := bytes.ToLower(raw)
	return bytes.Count(raw, []byte(string(utf8.RuneError))) + bytes.Count(lower, []byte(`\ufffd`))
}

func checkContentType(r *http.Request, allowed ...string) *problem {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil {
		for _, a := range allowed {
			if mt == a {
				return nil
			}
		}
	}
	return &problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type", Title: "Unsupported media type",
		Detail: "Send the body as " + strings.Join(allowed, " or ") + "."}
}

func malformed(detail string) *problem {
	return &problem{Status: http.StatusBadRequest, Type: "malformed-json", Title: "Malformed JSON", Detail: detail}
}

func jsonErrorDetail(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("Invalid JSON at byte %d.", syntax.Offset)
	case errors.As(err, &typ):
		return "The body must be a JSON object."
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "The body is empty or ends too early."
	}
	return "The body is not valid JSON."
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
