package config

import (
	"errors"
	"slices"
	"testing"
)

func TestLoadTracing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		want     Tracing
		problems []string
	}{
		{"defaults", nil, Tracing{MaxPerSecond: DefaultTracesPerSecond}, nil},
		{"a fraction and baggage", map[string]string{"TRACES_PER_SECOND": "0.5", "TRACE_BAGGAGE": "true"},
			Tracing{MaxPerSecond: 0.5, Baggage: true}, nil},
		{"zero is refused (the cap is a rate, not a switch)", map[string]string{"TRACES_PER_SECOND": "0"},
			Tracing{MaxPerSecond: DefaultTracesPerSecond}, []string{"TRACES_PER_SECOND"}},
		{"not a number", map[string]string{"TRACES_PER_SECOND": "many", "TRACE_BAGGAGE": "yes please"},
			Tracing{MaxPerSecond: DefaultTracesPerSecond}, []string{"TRACES_PER_SECOND", "TRACE_BAGGAGE"}},
		{"NaN", map[string]string{"TRACES_PER_SECOND": "NaN"},
			Tracing{MaxPerSecond: DefaultTracesPerSecond}, []string{"TRACES_PER_SECOND"}},
		{"the SDK's sampler variables would be ignored, so they are refused",
			map[string]string{"OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "1"},
			Tracing{MaxPerSecond: DefaultTracesPerSecond}, []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &parser{lookup: envOf(tt.env)}
			got := loadTracing(p)
			var vars []string
			for _, pr := range p.problems {
				vars = append(vars, pr.Var)
			}
			if !slices.Equal(vars, tt.problems) {
				t.Errorf("problems %v, want %v", p.problems, tt.problems)
			}
			if got != tt.want {
				t.Errorf("Tracing = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Through Load: the tracing problems are reported with all the others.
func TestLoadReportsTracingProblems(t *testing.T) {
	t.Parallel()
	_, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/app", "TRACES_PER_SECOND": "-1"}))
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || cerr.Problems[0].Var != "TRACES_PER_SECOND" {
		t.Fatalf("Load = %v, want one TRACES_PER_SECOND problem", err)
	}
}
