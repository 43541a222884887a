// Package contract checks answers of the JSON API against its OpenAPI
// document, for tests only (the server never imports it). Every /api
// answer a test sees is validated with libopenapi-validator, whose JSON
// Schema 2020-12 validator is the one OpenAPI 3.1 names; each (operation,
// status, problem type) met is counted, so a test binary can tell which
// documented answers it never exercised.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/router"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// ProblemType is the media type of RFC 9457 problem details.
const ProblemType = "application/problem+json"

// Key is one documented kind of answer: an operation, a status and, for
// problem details, the problem type's name (the part after the base).
type Key struct {
	// Operation is the operationId; "" for a request no operation matches,
	// "*" (in exemptions only) for every operation.
	Operation string
	Status    int
	Problem   string
}

func (k Key) String() string {
	op := k.Operation
	if op == "" {
		op = "(no operation)"
	}
	s := op + " " + strconv.Itoa(k.Status)
	if k.Problem != "" {
		s += " " + k.Problem
	}
	return s
}

// Checker validates answers against one document and counts what it saw.
// It is safe for concurrent use by parallel tests.
type Checker struct {
	router router.Router
	// strict validates answers: an undeclared member or header is an error.
	// plain validates requests (clients send headers of their own) and the
	// answers of lenientOperations.
	strict, plain validator.Validator
	schemas       schema_validation.SchemaValidator
	problem       *base.Schema // components.schemas.Problem
	problemBase   string
	documented    map[Key]bool

	mu   sync.Mutex
	seen map[Key]int

	// problemMu serialises validations against problem: libopenapi renders
	// the schema for each one and writes to it while doing so
	// (https://github.com/pb33f/libopenapi/issues/163).
	problemMu sync.Mutex
}

// New loads an OpenAPI 3.1 document. problemBase is the prefix of every
// problem type URI the server sends; the document must use it for every
// problem type it lists, so the two cannot drift apart.
func New(doc []byte, problemBase string) (*Checker, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: parse the document: %w", err)
	}
	if v := d.GetVersion(); !strings.HasPrefix(v, "3.1.") {
		return nil, fmt.Errorf("contract: the document is OpenAPI %s, want 3.1", v)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("contract: build the document model: %w", err)
	}
	model := &m.Model
	problem := model.Components.Schemas.GetOrZero("Problem").Schema()
	if problem == nil {
		return nil, errors.New("contract: the document has no components.schemas.Problem")
	}
	common := []config.Option{
		// Identity is the auth package's business, tested there; requests
		// here carry whatever the test's sign-in mode needs.
		config.WithoutSecurityValidation(),
		// date-time, uri, int64 checked, not only annotated.
		config.WithFormatAssertions(),
	}
	strict := validator.NewValidatorFromV3Model(model, append(common,
		// A member or header the document does not declare is an error: a
		// handler cannot grow a field the contract does not describe.
		config.WithStrictMode(),
		// Headers every answer carries that are no part of the API: the
		// browser policy (auth.SecurityHeaders).
		config.WithStrictIgnoredHeadersExtra(browserPolicyHeaders...),
	)...)
	c := &Checker{
		router:      router.NewRouter(model, router.WithPathOnlyMatching()),
		strict:      strict,
		plain:       validator.NewValidatorFromV3Model(model, common...),
		schemas:     schema_validation.NewSchemaValidator(config.WithFormatAssertions()),
		problem:     problem,
		problemBase: problemBase,
		seen:        map[Key]int{},
	}
	if c.documented, err = documentedAnswers(model, problemBase); err != nil {
		return nil, err
	}
	return c, nil
}

// browserPolicyHeaders go on every answer, API or not (internal/auth); they
// are the site's browser policy, documented in docs/auth.md, not API.
var browserPolicyHeaders = []string{
	"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
	"Strict-Transport-Security", "Cross-Origin-Resource-Policy", "Cross-Origin-Opener-Policy", "Permissions-Policy",
}

// lenientOperations answer with members the document does not list, and
// why: their answers are checked without strict mode.
var lenientOperations = map[string]string{
	"getOpenAPIDocument": "its body is the OpenAPI document, whose members the OpenAPI specification defines",
}

// documentedAnswers lists every (operation, status, problem type) the
// document allows. A problem answer must name its types with const or enum
// on "type" (directly or in allOf), or it could not be counted.
func documentedAnswers(model *v3.Document, problemBase string) (map[Key]bool, error) {
	out := map[Key]bool{}
	for path, item := range model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if op.OperationId == "" {
				return nil, fmt.Errorf("contract: %s %s has no operationId", strings.ToUpper(method), path)
			}
			if op.Responses == nil || op.Responses.Codes == nil {
				return nil, fmt.Errorf("contract: %s has no responses", op.OperationId)
			}
			for code, res := range op.Responses.Codes.FromOldest() {
				status, err := strconv.Atoi(code)
				if err != nil {
					return nil, fmt.Errorf("contract: %s: response %q is not a status code", op.OperationId, code)
				}
				var media *v3.MediaType
				if res.Content != nil {
					media = res.Content.GetOrZero(ProblemType)
				}
				if media == nil {
					out[Key{op.OperationId, status, ""}] = true
					continue
				}
				types := problemTypes(media.Schema.Schema())
				if len(types) == 0 {
					return nil, fmt.Errorf("contract: %s %d: a problem answer must list its types (const or enum on type)", op.OperationId, status)
				}
				for _, t := range types {
					name, ok := strings.CutPrefix(t, problemBase)
					if !ok || name == "" {
						return nil, fmt.Errorf("contract: %s %d: problem type %q does not start with %q", op.OperationId, status, t, problemBase)
					}
					out[Key{op.OperationId, status, name}] = true
				}
			}
		}
	}
	return out, nil
}

// problemTypes collects the const and enum values of a schema's "type"
// property, in the schema and its allOf parts.
func problemTypes(s *base.Schema) []string {
	if s == nil {
		return nil
	}
	var out []string
	if s.Properties != nil {
		if p := s.Properties.GetOrZero("type"); p != nil {
			if ps := p.Schema(); ps != nil {
				if ps.Const != nil {
					out = append(out, ps.Const.Value)
				}
				for _, e := range ps.Enum {
					out = append(out, e.Value)
				}
			}
		}
	}
	for _, part := range s.AllOf {
		out = append(out, problemTypes(part.Schema())...)
	}
	return out
}

// Documented returns every documented answer, sorted.
func (c *Checker) Documented() []Key {
	keys := make([]Key, 0, len(c.documented))
	for k := range c.documented {
		keys = append(keys, k)
	}
	sortKeys(keys)
	return keys
}

// Seen returns how often each answer was checked so far.
func (c *Checker) Seen() map[Key]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[Key]int, len(c.seen))
	for k, n := range c.seen {
		out[k] = n
	}
	return out
}

// Coverage compares what was seen with what is documented. exempt names
// answers no test can produce yet, with the reason (Operation "*" matches
// every operation). missing lists documented answers neither seen nor
// exempt; stale lists exemptions that no longer hold: every answer they
// cover was seen, or they cover nothing documented.
func (c *Checker) Coverage(exempt map[Key]string) (missing []Key, stale []string) {
	seen := c.Seen()
	covers := func(e, k Key) bool {
		return (e.Operation == "*" || e.Operation == k.Operation) && e.Status == k.Status && e.Problem == k.Problem
	}
	for k := range c.documented {
		if seen[k] > 0 {
			continue
		}
		exempted := false
		for e := range exempt {
			exempted = exempted || covers(e, k)
		}
		if !exempted {
			missing = append(missing, k)
		}
	}
	sortKeys(missing)
	for e, reason := range exempt {
		matched, unseen := 0, 0
		for k := range c.documented {
			if covers(e, k) {
				matched++
				if seen[k] == 0 {
					unseen++
				}
			}
		}
		switch {
		case matched == 0:
			stale = append(stale, fmt.Sprintf("%v (%s): the document lists no such answer", e, reason))
		case unseen == 0:
			stale = append(stale, fmt.Sprintf("%v (%s): every answer it covers was exercised; remove the exemption", e, reason))
		}
	}
	slices.Sort(stale)
	return missing, stale
}

func sortKeys(keys []Key) {
	slices.SortFunc(keys, func(a, b Key) int {
		if c := strings.Compare(a.Operation, b.Operation); c != 0 {
			return c
		}
		if a.Status != b.Status {
			return a.Status - b.Status
		}
		return strings.Compare(a.Problem, b.Problem)
	})
}

// IsAPI reports whether a request path belongs to the JSON API.
func IsAPI(path string) bool { return path == "/api" || strings.HasPrefix(path, "/api/") }

// Check validates one exchange against the document and counts it; other
// paths than /api are ignored. reqBody is the request body as sent; the
// response body is read and put back. A HEAD answer is checked without a
// body, as net/http sends it.
func (c *Checker) Check(req *http.Request, reqBody []byte, res *http.Response) error {
	if !IsAPI(req.URL.Path) {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("contract: %s %s: read the answer: %w", req.Method, req.URL, err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if req.Method == http.MethodHead {
		body = nil
	}
	problem, perr := c.problemName(res, body)

	route, rerr := c.router.FindRoute(req)
	op := ""
	if rerr == nil && route != nil && route.Operation != nil {
		op = route.Operation.OperationId
	}
	c.mu.Lock()
	c.seen[Key{op, res.StatusCode, problem}]++
	c.mu.Unlock()

	what := fmt.Sprintf("%s %s answered %d", req.Method, req.URL.RequestURI(), res.StatusCode)
	if op == "" {
		if !errors.Is(rerr, router.ErrPathNotFound) && !errors.Is(rerr, router.ErrMethodNotAllowed) {
			return fmt.Errorf("contract: %s: no operation: %v", what, rerr)
		}
		return c.checkUnrouted(what, req.Method == http.MethodHead, res, body, problem, perr)
	}
	if perr != nil {
		return fmt.Errorf("contract: %s (%s): %w", what, op, perr)
	}

	vres := *res
	vres.Body = io.NopCloser(bytes.NewReader(body))
	v := c.strict
	if _, lenient := lenientOperations[op]; lenient {
		v = c.plain
	}
	var errs []*liberrors.ValidationError
	if _, e := v.ValidateHttpResponse(req, &vres); len(e) > 0 {
		errs = append(errs, e...)
	}
	// A request the server accepted must be one the document allows: a
	// schema stricter than the handler would refuse real clients.
	if res.StatusCode < 300 && req.Method != http.MethodHead {
		vreq := req.Clone(req.Context())
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
		if _, e := c.plain.ValidateHttpRequest(vreq); len(e) > 0 {
			errs = append(errs, e...)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("contract: %s (%s) breaks the document:%s\nbody: %s", what, op, describe(errs), truncate(body, 600))
	}
	return nil
}

// unroutedTypes are the answers any /api path may give outside the
// operations, as info.description of the document says: identity and role
// are checked before routing, then the router's own refusals.
var unroutedTypes = map[int][]string{
	http.StatusUnauthorized:     {"unauthenticated"},
	http.StatusForbidden:        {"forbidden", "cross-origin"},
	http.StatusNotFound:         {"not-found"},
	http.StatusMethodNotAllowed: {"method-not-allowed"},
}

// UnroutedProblems returns, by status, the problem types any /api path may
// answer without matching an operation.
func UnroutedProblems() map[int][]string {
	out := make(map[int][]string, len(unroutedTypes))
	for s, types := range unroutedTypes {
		out[s] = slices.Clone(types)
	}
	return out
}

// checkUnrouted holds an answer no operation matches to the rule of
// info.description; head answers have no body to check.
func (c *Checker) checkUnrouted(what string, head bool, res *http.Response, body []byte, problem string, perr error) error {
	types, ok := unroutedTypes[res.StatusCode]
	if !ok {
		return fmt.Errorf("contract: %s, but the document has no operation for it: document the route in internal/web/openapi.json", what)
	}
	if res.StatusCode == http.StatusMethodNotAllowed && res.Header.Get("Allow") == "" {
		return fmt.Errorf("contract: %s without an Allow header", what)
	}
	if head {
		return nil
	}
	if perr != nil {
		return fmt.Errorf("contract: %s: %w", what, perr)
	}
	if !slices.Contains(types, problem) {
		return fmt.Errorf("contract: %s with problem type %q, want one of %v", what, problem, types)
	}
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		return fmt.Errorf("contract: %s: problem body: %w", what, err)
	}
	c.problemMu.Lock()
	ok, errs := c.schemas.ValidateSchemaObjectWithVersion(c.problem, payload, 3.1)
	c.problemMu.Unlock()
	if !ok {
		return fmt.Errorf("contract: %s: not a Problem:%s", what, describe(errs))
	}
	return nil
}

// problemName returns the problem type's name of a problem answer, "" for
// any other answer.
func (c *Checker) problemName(res *http.Response, body []byte) (string, error) {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt != ProblemType {
		if res.StatusCode >= 400 && len(body) > 0 {
			return "", fmt.Errorf("an error answer as %q, want %s", res.Header.Get("Content-Type"), ProblemType)
		}
		return "", nil
	}
	if body == nil { // HEAD
		return "", nil
	}
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", fmt.Errorf("problem body %q: %w", truncate(body, 200), err)
	}
	name, ok := strings.CutPrefix(p.Type, c.problemBase)
	if !ok {
		return "", fmt.Errorf("problem type %q does not start with %q", p.Type, c.problemBase)
	}
	return name, nil
}

func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s: %s", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
