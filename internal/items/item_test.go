package items_test

import (
	"errors"
	"testing"

	"example.com/example-function/internal/items"
)

func TestValidateNameFormatCharacters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"👨\u200D👩\u200D👧 family", true},
		{"\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", true},
		{"می\u200Cخواهم", true},
		{"invoice\u202Efdp.exe", false},
		{"\u2066isolated\u2069", false},
		{"ad\u200Bmin", false},
		{"x\U000E0041\U000E007F", false},
	}
	for _, tt := range tests {
		err := items.Input{Name: tt.name}.Validate()
		perr := items.Patch{Name: &tt.name}.Validate()
		if (err == nil) != tt.ok || (perr == nil) != tt.ok {
			t.Errorf("%q: Input.Validate = %v, Patch.Validate = %v; want ok %v", tt.name, err, perr, tt.ok)
		}
		if verr, isV := errors.AsType[*items.ValidationError](err); !tt.ok && (!isV || verr.Fields[0].Field != "name") {
			t.Errorf("%q: error %v, want a ValidationError on name", tt.name, err)
		}
	}
}
