// Package examplefunction is what Google's Go buildpack builds when the
// service is deployed from source as a function (`gcloud run deploy --source
// . --function app`, or `gcloud functions deploy`). The buildpack reads the
// function package from the .go files at the source root only and generates
// a main that imports it; this package brings in package function, whose
// init registers every function. Keep it to these imports (and no _test.go
// file of another package here: the buildpack parses those too).
// docs/deploy.md#deploy-from-source says more.
package examplefunction

import (
	// Importing the framework's functions package is what makes the
	// buildpack generate its "declarative" main, which only imports this
	// package and starts the framework (GoogleCloudPlatform/buildpacks
	// cmd/go/functions_framework/lib/lib.go, createMainGoFile).
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "example.com/example-function/function"
)
