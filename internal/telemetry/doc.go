// Package telemetry sets up OpenTelemetry traces and metrics for the service
// and writes logs in Cloud Logging's structured JSON format, so that one slow
// request can be followed from its Cloud Run log line to its span and its SQL
// query, and dashboards and alerts have the metrics they name.
//
// Setup builds the providers once (cmd/server and the Functions Framework main
// call it) and returns one Shutdown that flushes everything. Middleware traces
// and measures HTTP requests, logs one line per request and turns panics into
// Error Reporting entries. NewLogHandler is the slog handler.
package telemetry
