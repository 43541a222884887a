package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/items"
)

// Page sizes of GET /api/items.
const (
	defaultLimit = 20
	maxLimit     = 100
)

type listResponse struct {
	Items      []items.Item `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func (s *site) apiList(w http.ResponseWriter, r *http.Request) {
	page, p := parsePage(r, defaultLimit)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	list, next, err := s.Items.List(r.Context(), page)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	resp := listResponse{Items: list}
	if resp.Items == nil {
		resp.Items = []items.Item{}
	}
	if next != nil {
		resp.NextCursor = next.Encode()
		next := url.Values{"limit": {strconv.Itoa(page.Limit)}, "cursor": {resp.NextCursor}}
		if page.Query != "" {
			next.Set("q", page.Query)
		}
		w.Header().Set("Link", `</api/items?`+next.Encode()+`>; rel="next"`)
	}
	s.writeJSON(w, http.StatusOK, resp)
}

// parsePage reads the limit, cursor and q (search by name) query
// parameters.
func parsePage(r *http.Request, def int) (items.Page, *problem) {
	q := r.URL.Query()
	page := items.Page{Limit: def}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return page, &problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Title: "Invalid parameter",
				Detail: "limit must be a whole number from 1 to " + strconv.Itoa(maxLimit) + "."}
		}
		page.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := items.DecodeCursor(v)
		if err != nil {
			return page, &problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Title: "Invalid parameter",
				Detail: "cursor is not one this API handed out; start again without it."}
		}
		page.After = &c
	}
	page.Query = strings.TrimSpace(q.Get("q"))
	// Names never hold control characters, and PostgreSQL refuses NUL in
	// text: such a query is the client's mistake, not a server error.
	if !utf8.ValidString(page.Query) || strings.ContainsFunc(page.Query, unicode.IsControl) ||
		utf8.RuneCountInString(page.Query) > items.MaxQueryLen {
		return page, &problem{Status: http.StatusBadRequest, Type: "invalid-parameter", Title: "Invalid parameter",
			Detail: "q must be valid UTF-8 without control characters, at most " + strconv.Itoa(items.MaxQueryLen) + " characters."}
	}
	return page, nil
}

func (s *site) apiGet(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.apiError(w, r, items.ErrNotFound)
		return
	}
	it, err := s.Items.Get(r.Context(), id)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	tag := etag(it.Version)
	w.Header().Set("ETag", tag)
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeJSON(w, http.StatusOK, it)
}

func (s *site) apiCreate(w http.ResponseWriter, r *http.Request) {
	fields, p := decodeItem(w, r, "application/json")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	it, err := s.Items.Create(r.Context(), items.Input{
		Name: fields["name"].value, Description: fields["description"].value,
	}, userName(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.Events.ItemCreated(r.Context())
	s.Logger.InfoContext(r.Context(), "item created", slog.Int64("item_id", it.ID))
	w.Header().Set("Location", "/api/items/"+strconv.FormatInt(it.ID, 10))
	w.Header().Set("ETag", etag(it.Version))
	s.writeJSON(w, http.StatusCreated, it)
}

// apiPut replaces the item: absent fields become empty (and an empty name
// is invalid).
func (s *site) apiPut(w http.ResponseWriter, r *http.Request) {
	s.apiUpdate(w, r, true, "application/json")
}

// apiPatch applies a JSON merge patch (RFC 7396): absent fields stay, null
// clears the description (and is invalid for the name).
func (s *site) apiPatch(w http.ResponseWriter, r *http.Request) {
	s.apiUpdate(w, r, false, "application/merge-patch+json", "application/json")
}

// apiUpdate changes the fields the body sets, or all of them when replace
// is true, honouring If-Match.
func (s *site) apiUpdate(w http.ResponseWriter, r *http.Request, replace bool, types ...string) {
	id, version, ok := s.writeTarget(w, r)
	if !ok {
		return
	}
	fields, p := decodeItem(w, r, types...)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	var patch items.Patch
	for name, dst := range map[string]**string{"name": &patch.Name, "description": &patch.Description} {
		if f, ok := fields[name]; ok || replace {
			v := f.value // absent or null: "" (and an empty name is invalid)
			*dst = &v
		}
	}
	it, err := s.Items.Apply(r.Context(), id, patch, version, userName(r))
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	s.Events.ItemUpdated(r.Context())
	w.Header().Set("ETag", etag(it.Version))
	s.writeJSON(w, http.StatusOK, it)
}

func (s *site) apiDelete(w http.ResponseWriter, r *http.Request) {
	id, version, ok := s.writeTarget(w, r)
	if !ok {
		return
	}
	if err := s.Items.Delete(r.Context(), id, version); err != nil {
		s.apiError(w, r, err)
		return
	}
	s.Events.ItemDeleted(r.Context())
	s.Logger.InfoContext(r.Context(), "item deleted", slog.Int64("item_id", id))
	w.WriteHeader(http.StatusNoContent)
}

// writeTarget reads the item id of the path and the version If-Match
// requires, answering the problem itself when it cannot.
func (s *site) writeTarget(w http.ResponseWriter, r *http.Request) (id, version int64, ok bool) {
	if id, ok = pathID(r); !ok {
		s.apiError(w, r, items.ErrNotFound)
		return 0, 0, false
	}
	version, p := ifMatch(r)
	if p != nil {
		writeProblem(w, *p)
		return 0, 0, false
	}
	return id, version, true
}

// pathID parses the {id} path segment; anything but a positive integer is
// treated as an unknown item.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func userName(r *http.Request) string {
	u, _ := auth.FromContext(r.Context())
	return u.Name
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version an If-Match header requires. Writes must be
// conditional, so two editors never silently overwrite each other: no
// header is 428, "*" explicitly overwrites whatever is there, and a header
// naming no version we could have issued can never match (412, RFC 9110).
func ifMatch(r *http.Request) (int64, *problem) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	switch v {
	case "":
		return 0, &problem{Status: http.StatusPreconditionRequired, Type: "precondition-required", Title: "If-Match required",
			Detail: `Send If-Match with the item's ETag as you read it (e.g. "3"), or * to overwrite whatever is there.`}
	case "*":
		return items.AnyVersion, nil
	}
	if n, ok := parseETag(v); ok {
		return n, nil
	}
	return 0, &problem{Status: http.StatusPreconditionFailed, Type: "edit-conflict", Title: "Edit conflict",
		Detail: "If-Match must be the ETag of the item as you read it, e.g. \"3\"."}
}

func parseETag(v string) (int64, bool) {
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(v[1:len(v)-1], 10, 64)
	return n, err == nil && n > 0
}

// noneMatch reports whether an If-None-Match header matches etag, by the
// weak comparison RFC 9110 prescribes for it (a W/ prefix is ignored; *
// matches anything): the answer is then 304.
func noneMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// writeJSON encodes v into a pooled buffer, so a body as large as a page
// of items is not allocated afresh, and collected, for every answer.
func (s *site) writeJSON(w http.ResponseWriter, status int, v any) {
	buf, _ := s.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil { // Encode ends the body with a newline
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	// Only a completed write gives the buffer back: when a client resets an
	// HTTP/2 stream, Write can return while a frame still points into it.
	if err := writeBody(w, status, jsonType, buf.Bytes()); err == nil && buf.Cap() <= maxPooledBuffer {
		s.buffers.Put(buf)
	}
}

// maxPooledBuffer keeps the buffer of a rare huge answer (a page of long
// descriptions runs to megabytes) from staying in memory.
const maxPooledBuffer = 256 << 10

// netHTTPBuffered is the size of net/http's HTTP/1 response buffer
// (bufferBeforeChunkingSize; HTTP/2's is 4 KiB). A handler that returns
// having written at most this much gets its Content-Length from net/http,
// outside the header map; a larger body would go out chunked unless the
// handler sets Content-Length.
const netHTTPBuffered = 2048

// writeBody sends a complete, uncacheable body. Content-Length goes into
// the header map only when net/http would not set it itself (outside the
// map), as every map entry is sorted and written for each response.
func writeBody(w http.ResponseWriter, status int, contentType []string, body []byte) error {
	h := w.Header()
	// Canonical keys and shared, never-written values: Header.Set would
	// allocate both for every answer.
	h["Content-Type"] = contentType
	h["Cache-Control"] = noStore
	if len(body) > netHTTPBuffered {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// writeHTML sends a complete, uncacheable HTML page with the policies that
// only apply to documents.
func writeHTML(w http.ResponseWriter, status int, page []byte) error {
	setDocumentHeaders(w.Header())
	return writeBody(w, status, htmlType, page)
}

// Header values shared by every response; constants in all but syntax.
var (
	jsonType    = []string{"application/json"}
	problemType = []string{"application/problem+json"}
	htmlType    = []string{"text/html; charset=utf-8"}
	noStore     = []string{"no-store"}
)
