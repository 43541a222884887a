package items

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Cursor marks a position in the newest-first listing: the page after it
// starts with the next older item. Keyset pagination keeps pages stable while
// items are being inserted, unlike OFFSET.
type Cursor struct {
	CreatedAt time.Time
	ID        int64
}

// maxCursorMicros is 9999-12-31T00:00:00Z in Unix microseconds.
const maxCursorMicros = 253402214400000000

// ErrBadCursor means a cursor string was not made by Encode.
var ErrBadCursor = errors.New("invalid cursor")

// Encode returns the opaque form handed to clients.
func (c Cursor) Encode() string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a cursor made by Encode.
func DecodeCursor(s string) (Cursor, error) {
	if len(s) > 64 {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	micros, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	// Times outside what PostgreSQL stores would overflow on the way in.
	if err1 != nil || err2 != nil || n <= 0 || micros < 0 || micros > maxCursorMicros {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{CreatedAt: time.UnixMicro(micros).UTC(), ID: n}, nil
}

// CursorOf returns the cursor just after it.
func CursorOf(it Item) Cursor { return Cursor{CreatedAt: it.CreatedAt, ID: it.ID} }
