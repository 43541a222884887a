// Package apache checks the Apache configuration that docs/auth.md gives for
// proxy mode: its test extracts the documented block and runs Debian's
// apache2 with it, in front of the real server binary. It has no code of its
// own.
//
//	go test -run TestApacheInFrontOfProxyMode -v ./deploy/apache/
package apache
