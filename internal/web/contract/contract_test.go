package contract_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"example.com/example-function/internal/web"
	"example.com/example-function/internal/web/contract"
)

func newChecker(t *testing.T) *contract.Checker {
	t.Helper()
	c, err := contract.New(web.OpenAPIDocument(), web.ProblemTypeBase)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	item = `{"id":7,"name":"Lamp","description":"","created_by":"ana","created_at":"2026-05-04T09:30:00Z",` +
		`"updated_by":"ana","updated_at":"2026-05-04T09:30:00Z","version":1}`
	base = "https://example.com/problems/"
)

// answer is a response as a handler would send it.
func answer(status int, contentType, body string, header ...string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

// problem is a problem details body of the given type name.
func problem(status int, name string) string {
	return `{"type":"` + base + name + `","title":"t","status":` + strconv.Itoa(status) + `}`
}

// The validator refuses answers that break the document, and accepts the
// same answers put right: each bad case has a good twin, so a check that
// accepted everything, or nothing, would fail here.
func TestCheckRefusesBreaches(t *testing.T) {
	t.Parallel()
	c := newChecker(t)
	etag := []string{"ETag", `"1"`}
	cases := []struct {
		name      string
		method    string
		target    string
		reqType   string
		reqBody   string
		bad, good *http.Response
		want      string // in the error of bad
	}{
		{
			name: "an item without its version", method: "GET", target: "/api/items/7",
			bad:  answer(200, "application/json", strings.Replace(item, `,"version":1`, "", 1), etag...),
			good: answer(200, "application/json", item, etag...),
			want: "missing property 'version'",
		},
		{
			name: "a status the operation does not document", method: "DELETE", target: "/api/items/7",
			bad:  answer(200, "application/json", item, etag...),
			good: answer(204, "", ""),
			want: "response code '200' does not exist",
		},
		{
			name: "a created item without Location", method: "POST", target: "/api/items",
			reqType: "application/json", reqBody: `{"name":"Lamp"}`,
			bad:  answer(201, "application/json", item, etag...),
			good: answer(201, "application/json", item, "ETag", `"1"`, "Location", "/api/items/7"),
			want: "required header 'Location'",
		},
		{
			name: "a member the document does not declare", method: "GET", target: "/api/items",
			bad:  answer(200, "application/json", `{"items":[],"total":0}`),
			good: answer(200, "application/json", `{"items":[]}`),
			want: "'total' at '$.body.total' is not declared",
		},
		{
			name: "a time that is no RFC 3339 date-time", method: "GET", target: "/api/items/7",
			bad:  answer(200, "application/json", strings.Replace(item, `"created_at":"2026-05-04T09:30:00Z"`, `"created_at":"yesterday"`, 1), etag...),
			good: answer(200, "application/json", item, etag...),
			want: "created_at: 'yesterday' is not valid date-time",
		},
		{
			name: "a problem type the status does not document (const)", method: "GET", target: "/api/items/7",
			bad:  answer(404, contract.ProblemType, problem(404, "internal")),
			good: answer(404, contract.ProblemType, problem(404, "not-found")),
			want: "$.type: value must be",
		},
		{
			name: "a problem type of another base", method: "GET", target: "/api/items/7",
			bad:  answer(404, contract.ProblemType, `{"type":"about:blank","title":"t","status":404}`),
			good: answer(404, contract.ProblemType, problem(404, "not-found")),
			want: "does not start with",
		},
		{
			name: "an error as plain text", method: "GET", target: "/api/items",
			bad:  answer(500, "text/plain; charset=utf-8", "Internal Server Error\n"),
			good: answer(500, contract.ProblemType, problem(500, "internal")),
			want: "text/plain",
		},
		{
			name: "503 without Retry-After", method: "GET", target: "/api/items",
			bad:  answer(503, contract.ProblemType, problem(503, "database-unavailable")),
			good: answer(503, contract.ProblemType, problem(503, "database-unavailable"), "Retry-After", "5"),
			want: "required header 'Retry-After'",
		},
		{
			name: "304 without ETag", method: "GET", target: "/api/items/7",
			bad:  answer(304, "", ""),
			good: answer(304, "", "", etag...),
			want: "required header 'ETag'",
		},
		{
			name: "HEAD without ETag", method: "HEAD", target: "/api/items/7",
			bad:  answer(200, "application/json", item),
			good: answer(200, "application/json", item, etag...),
			want: "required header 'ETag'",
		},
		{
			name: "an ETag that is no version", method: "GET", target: "/api/items/7",
			bad:  answer(200, "application/json", item, "ETag", `W/"1"`),
			good: answer(200, "application/json", item, etag...),
			want: "does not match pattern",
		},
		{
			name: "accepted: a merge patch the document forbids (type array without null)", method: "PATCH", target: "/api/items/7",
			reqType: "application/merge-patch+json", reqBody: `{"description":5}`,
			bad:  answer(200, "application/json", item, etag...),
			good: answer(412, contract.ProblemType, problem(412, "edit-conflict")),
			want: "$.description: got number, want null or string",
		},
		{
			name: "a route the document does not have", method: "GET", target: "/api/widgets",
			bad:  answer(200, "application/json", `{}`),
			good: answer(404, contract.ProblemType, problem(404, "not-found")),
			want: "document the route",
		},
		{
			name: "HEAD of an unknown path answered 200", method: "HEAD", target: "/api/widgets",
			bad:  answer(200, "application/json", `{}`),
			good: answer(404, contract.ProblemType, problem(404, "not-found")),
			want: "document the route",
		},
		{
			name: "405 without Allow", method: "PATCH", target: "/api/items",
			bad:  answer(405, contract.ProblemType, problem(405, "method-not-allowed")),
			good: answer(405, contract.ProblemType, problem(405, "method-not-allowed"), "Allow", "GET, HEAD, POST"),
			want: "without an Allow header",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			check := func(res *http.Response) error {
				req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.reqBody))
				if tc.reqType != "" {
					req.Header.Set("Content-Type", tc.reqType)
				}
				req.Header.Set("If-Match", `"1"`)
				return c.Check(req, []byte(tc.reqBody), res)
			}
			if err := check(tc.good); err != nil {
				t.Fatalf("the good twin is refused: %v", err)
			}
			err := check(tc.bad)
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Errorf("error does not name %q:\n%v", tc.want, err)
			}
		})
	}
}

// OpenAPI 3.1's type arrays: null is a valid description in a merge
// patch, as "type": ["string", "null"] says, and still no number.
func TestCheckReadsTypeArrays(t *testing.T) {
	t.Parallel()
	c := newChecker(t)
	for body, ok := range map[string]bool{`{"description":null}`: true, `{"description":"d"}`: true, `{"description":5}`: false, `{"name":null}`: false} {
		req := httptest.NewRequest("PATCH", "/api/items/7", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/merge-patch+json")
		req.Header.Set("If-Match", `"1"`)
		err := c.Check(req, []byte(body), answer(200, "application/json", item, "ETag", `"2"`))
		if (err == nil) != ok {
			t.Errorf("PATCH %s answered 200: error %v, want ok %v", body, err, ok)
		}
	}
}

// Coverage names what no exchange met, and exemptions that no longer
// hold or match nothing.
func TestCoverage(t *testing.T) {
	t.Parallel()
	c := newChecker(t)
	req := httptest.NewRequest("GET", "/api/openapi.json", nil)
	if err := c.Check(req, nil, answer(200, "application/json", string(web.OpenAPIDocument()))); err != nil {
		t.Fatal(err)
	}
	missing, stale := c.Coverage(map[contract.Key]string{
		{Operation: "getOpenAPIDocument", Status: 200}:             "seen, so stale",
		{Operation: "*", Status: 418}:                              "matches nothing",
		{Operation: "*", Status: 503, Problem: "database-timeout"}: "not seen",
	})
	if len(missing) != len(c.Documented())-1-6 {
		t.Errorf("%d missing of %d documented, want all but the one seen and the six exempt: %v", len(missing), len(c.Documented()), missing)
	}
	for _, k := range missing {
		if k.Operation == "getOpenAPIDocument" || k.Problem == "database-timeout" {
			t.Errorf("%v reported missing", k)
		}
	}
	if len(stale) != 2 || !strings.Contains(strings.Join(stale, "\n"), "418") || !strings.Contains(strings.Join(stale, "\n"), "getOpenAPIDocument 200") {
		t.Errorf("stale = %q, want the seen one and the one matching nothing", stale)
	}
}

// A document whose problem types do not use the server's base is refused
// when loaded, so problem.go and openapi.json cannot drift apart.
func TestNewRefusesAnotherProblemBase(t *testing.T) {
	t.Parallel()
	if _, err := contract.New(web.OpenAPIDocument(), "https://problems.example.org/"); err == nil || !strings.Contains(err.Error(), "does not start with") {
		t.Fatalf("New with another base: %v", err)
	}
}
