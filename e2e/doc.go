// Package e2e holds the browser end-to-end tests: headless Chromium,
// driven with chromedp, against the real server binary on a real
// PostgreSQL. They need the build tag "browser" (and Chromium), so plain
// `go test ./...` stays Go-and-PostgreSQL only:
//
//	go test -race -tags browser -count=1 ./e2e/
//
// See docs/front-end.md#browser-tests for what they check.
package e2e
