package config

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parser reads typed values and collects every problem instead of stopping
// at the first one.
type parser struct {
	lookup   Lookup
	problems []Problem
}

func (p *parser) problem(name, format string, args ...any) {
	p.problems = append(p.problems, Problem{Var: name, Message: fmt.Sprintf(format, args...)})
}

// raw returns the trimmed value and whether it is set to something non-empty.
func (p *parser) raw(name string) (string, bool) {
	v, ok := p.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (p *parser) str(name, def string) string {
	if v, ok := p.raw(name); ok {
		return v
	}
	return def
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	if !slices.Contains(allowed, v) {
		p.problem(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
		return def
	}
	return v
}

func (p *parser) integer(name string, def, lo, hi int) int {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.problem(name, "must be a whole number, got %q", v)
		return def
	}
	if n < lo || n > hi {
		p.problem(name, "must be between %d and %d, got %d", lo, hi, n)
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.problem(name, "must be a duration such as 5s or 2m, got %q", v)
		return def
	}
	if d < 0 {
		p.problem(name, "must not be negative, got %s", v)
		return def
	}
	return d
}

func (p *parser) boolean(name string, def bool) bool {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.problem(name, "must be true or false, got %q", v)
		return def
	}
	return b
}

// list splits a comma-separated value, dropping empty entries.
func (p *parser) list(name string) []string {
	v, ok := p.raw(name)
	if !ok {
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) level(name string, def slog.Level) slog.Level {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.problem(name, "must be debug, info, warn or error, got %q", v)
		return def
	}
	return l
}

// number reads a decimal number such as 10 or 0.5 within [lo, hi].
func (p *parser) number(name string, def, lo, hi float64) float64 {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) {
		p.problem(name, "must be a number such as 10 or 0.5, got %q", v)
		return def
	}
	if n < lo || n > hi {
		p.problem(name, "must be between %g and %g, got %g", lo, hi, n)
		return def
	}
	return n
}
