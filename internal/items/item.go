// Package items is the domain: what an item is, what makes one valid, and how
// items are stored in PostgreSQL. It knows nothing about HTTP.
package items

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"example.com/example-function/internal/formatchar"
)

// Limits on item fields, in characters (Unicode code points), mirrored by
// CHECK constraints in the schema.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 10000
)

// Item is one stored item.
type Item struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedBy   string    `json:"updated_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Version starts at 1 and grows by one on every update; it is the ETag.
	Version int64 `json:"version"`
}

// Input is what a caller may set on an item.
type Input struct {
	Name        string
	Description string
}

// Patch changes only the fields that are set.
type Patch struct {
	Name        *string
	Description *string
}

// Normalize trims surrounding white space from the name; descriptions keep
// theirs (they may be preformatted text).
func (in Input) Normalize() Input {
	in.Name = strings.TrimSpace(in.Name)
	return in
}

// Validate reports every invalid field of in.
func (in Input) Validate() error {
	var errs ValidationError
	errs.check("name", validateName(in.Name))
	errs.check("description", validateDescription(in.Description))
	return errs.orNil()
}

// Validate reports every invalid field that the patch sets.
func (p Patch) Validate() error {
	var errs ValidationError
	if p.Name != nil {
		errs.check("name", validateName(*p.Name))
	}
	if p.Description != nil {
		errs.check("description", validateDescription(*p.Description))
	}
	return errs.orNil()
}

func validateName(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case s == "":
		return "must not be empty"
	case utf8.RuneCountInString(s) > MaxNameLen:
		return fmt.Sprintf("must be at most %d characters", MaxNameLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	if r, _, found := formatchar.Find(s); found {
		return fmt.Sprintf("must not contain invisible formatting characters such as direction overrides (found U+%04X)", r)
	}
	return ""
}

func validateDescription(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(s) > MaxDescriptionLen:
		return fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)
	case strings.ContainsRune(s, 0):
		return "must not contain NUL characters"
	}
	return ""
}

// ErrNotFound means no item has the requested id.
var ErrNotFound = errors.New("item not found")

// ConflictError means the item changed since the caller read it.
type ConflictError struct {
	// Current is the item as it is now.
	Current Item
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("item %d was changed: now at version %d", e.Current.ID, e.Current.Version)
}

// FieldError is one invalid field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "invalid item: " + strings.Join(parts, "; ")
}

// Add records a problem with field; the HTTP layer uses it for problems it
// finds while decoding (such as invalid UTF-8 the JSON decoder would hide).
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

func (e *ValidationError) check(field, message string) {
	if message != "" {
		e.Add(field, message)
	}
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}
