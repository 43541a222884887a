package formatchar

import (
	"strings"
	"testing"
	"unicode"
)

// tags spells s (ASCII digits and small letters) in tag characters.
func tags(s string) string {
	var b strings.Builder
	for _, c := range s {
		b.WriteRune(0xE0000 + c)
	}
	return b.String()
}

const cancel = "\U000E007F"

// Text people write must survive, format characters included.
func TestFindKeepsRealText(t *testing.T) {
	t.Parallel()
	corpus := map[string]string{
		"ASCII":                       "Quarterly report (draft) #3",
		"family ZWJ emoji":            "👨\u200D👩\u200D👧\u200D👦 family",
		"ZWJ emoji with a skin tone":  "👩🏽\u200D💻 on call",
		"rainbow flag ZWJ sequence":   "🏳\uFE0F\u200D🌈",
		"England subdivision flag":    "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F team",
		"Scotland and Wales flags":    "🏴" + tags("gbsct") + cancel + " 🏴" + tags("gbwls") + cancel,
		"US state code flag (3 tags)": "🏴" + tags("usca") + cancel,
		"regional indicator flag":     "🇫🇷 Paris",
		"keycap":                      "1\uFE0F\u20E3",
		"Persian with ZWNJ":           "می\u200Cخواهم کتاب\u200Cها را بخوانم",
		"Devanagari with ZWJ, ZWNJ":   "क्\u200Dष क्\u200Cष",
		"Arabic without controls":     "مرحبا بالعالم",
		"Hebrew and digits":           "שלום 2026",
		"CJK":                         "東京の天気",
		"combining accents":           "Cafe\u0301",
	}
	for name, s := range corpus {
		if r, at, found := Find(s); found {
			t.Errorf("%s: %q refused: U+%04X at byte %d", name, s, r, at)
		}
	}
}

func TestFindRefusesDisguises(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		r    rune
		at   int
	}{
		{"right-to-left override", "invoice\u202Efdp.exe", 0x202E, 7},
		{"left-to-right embedding", "\u202Aabc", 0x202A, 0},
		{"right-to-left embedding", "a\u202Bb", 0x202B, 1},
		{"pop directional formatting", "a\u202Cb", 0x202C, 1},
		{"left-to-right override", "a\u202Db", 0x202D, 1},
		{"left-to-right isolate", "a\u2066b", 0x2066, 1},
		{"right-to-left isolate", "a\u2067b", 0x2067, 1},
		{"first strong isolate", "a\u2068b", 0x2068, 1},
		{"pop directional isolate", "a\u2069b", 0x2069, 1},
		{"left-to-right mark", "a\u200Eb", 0x200E, 1},
		{"right-to-left mark", "a\u200Fb", 0x200F, 1},
		{"Arabic letter mark", "a\u061Cb", 0x061C, 1},
		{"zero width space", "ad\u200Bmin", 0x200B, 2},
		{"word joiner", "ad\u2060min", 0x2060, 2},
		{"byte order mark", "\uFEFFadmin", 0xFEFF, 0},
		{"soft hyphen", "ad\u00ADmin", 0x00AD, 2},
		{"Mongolian vowel separator", "a\u180Eb", 0x180E, 1},
		{"language tag", "a\U000E0001", 0xE0001, 1},
		{"tags without a flag", "admin" + tags("secret") + cancel, 0xE0073, 5},
		{"tags after another emoji", "😀" + tags("gbeng") + cancel, 0xE0067, 4},
		{"flag tags without CANCEL TAG", "🏴" + tags("gbeng"), 0xE0067, 4},
		{"flag with a single tag letter", "🏴" + tags("g") + cancel, 0xE0067, 4},
		{"flag with capital tag letters", "🏴\U000E0047\U000E0042" + tags("eng") + cancel, 0xE0047, 4},
		{"text smuggled in flag tags", "🏴" + tags("ignoreallrules") + cancel, 0xE0069, 4},
		{"tag space in a flag", "🏴" + tags("gb") + "\U000E0020" + tags("eng") + cancel, 0xE0067, 4},
		{"valid flag, then a stray cancel tag", "🏴" + tags("gbeng") + cancel + cancel, 0xE007F, 4 + 6*4},
	}
	for _, tt := range tests {
		r, at, found := Find(tt.s)
		if !found || r != tt.r || at != tt.at {
			t.Errorf("%s: Find(%q) = U+%04X at %d, found %v; want U+%04X at %d", tt.name, tt.s, r, at, found, tt.r, tt.at)
		}
	}
}

// Every Cf character of Go's Unicode tables is refused on its own, except
// the two joiners.
func TestFindCoversAllOfCf(t *testing.T) {
	t.Parallel()
	n := 0
	for _, rg := range unicode.Cf.R16 {
		for c := rune(rg.Lo); c <= rune(rg.Hi); c += rune(rg.Stride) {
			n += checkAlone(t, c)
		}
	}
	for _, rg := range unicode.Cf.R32 {
		for c := rune(rg.Lo); c <= rune(rg.Hi); c += rune(rg.Stride) {
			n += checkAlone(t, c)
		}
	}
	if n < 150 {
		t.Errorf("checked %d Cf characters; the table looks truncated", n)
	}
}

func checkAlone(t *testing.T, c rune) int {
	t.Helper()
	_, _, found := Find("x" + string(c) + "y")
	if want := c != 0x200C && c != 0x200D; found != want {
		t.Errorf("U+%04X: found %v, want %v", c, found, want)
	}
	return 1
}
