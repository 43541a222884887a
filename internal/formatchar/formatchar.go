// Package formatchar finds the invisible format characters (Unicode general
// category Cf) that let a name display as something it is not: the
// bidirectional embeddings, overrides, isolates and marks (U+202A-U+202E,
// U+2066-U+2069, U+200E, U+200F, U+061C), zero-width spaces, soft hyphens,
// byte order marks and the rest of Cf.
//
// Three uses of Cf that correct text needs are allowed: U+200C ZERO WIDTH
// NON-JOINER (Persian, Indic scripts), U+200D ZERO WIDTH JOINER (emoji ZWJ
// sequences, Indic scripts), and tag characters in a flag tag sequence, the
// only valid emoji tag sequence in Unicode Technical Standard #51 (a
// subdivision flag such as England's).
package formatchar

import (
	"unicode"
	"unicode/utf8"
)

const (
	zwnj      = '\u200C'
	zwj       = '\u200D'
	blackFlag = '\U0001F3F4' // the tag base of every subdivision flag
	cancelTag = '\U000E007F'
)

// Find returns the first format character in s that is not allowed and its
// byte offset; found is false when s has none. Invalid UTF-8 is not its
// concern (callers reject it first); such bytes are skipped.
func Find(s string) (r rune, at int, found bool) {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == blackFlag {
			i += size + flagTags(s[i+size:])
			continue
		}
		if c != zwnj && c != zwj && unicode.Is(unicode.Cf, c) {
			return c, i, true
		}
		i += size
	}
	return 0, 0, false
}

// flagTags returns the byte length of the tag sequence that s starts with
// when it completes a flag tag sequence (UTS #51 ED-14a with the
// subdivision form of Annex C): 3 to 7 tag digits or tag small letters,
// then CANCEL TAG. It returns 0 for anything else, leaving any tag
// characters to be reported by Find. Whether the code names a real
// subdivision (CLDR data) is not checked: a well-formed unknown code shows
// as a plain black flag, hiding nothing.
func flagTags(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case isTagSpec(c):
			n++
		case c == cancelTag && n >= 3 && n <= 7:
			return i + size
		default:
			return 0
		}
		i += size
	}
	return 0
}

// isTagSpec reports tag digits (U+E0030-U+E0039) and tag small letters
// (U+E0061-U+E007A), the characters of a tagged subdivision code.
func isTagSpec(c rune) bool {
	return ('\U000E0030' <= c && c <= '\U000E0039') || ('\U000E0061' <= c && c <= '\U000E007A')
}
