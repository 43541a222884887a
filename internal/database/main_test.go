package database_test

import (
	"os"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"example.com/example-function/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// staticTokens is an oauth2.TokenSource for IAM login tokens. Tokens carry
// an expiry: the connector caps the client certificate at the token's
// expiry, so a token without one would make every dial refresh.
type staticTokens struct {
	tok    string
	expiry time.Time
	err    error
}

func (s *staticTokens) Token() (*oauth2.Token, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &oauth2.Token{AccessToken: s.tok, TokenType: "Bearer", Expiry: s.expiry}, nil
}
