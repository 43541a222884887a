package database

// WithRuntimeParams sets session settings (statement_timeout, lock_timeout,
// ...) on every connection of the pool, applied after Open's own, so they
// win. They are sent at connection start-up, so RESET ALL (which tern runs
// after each migration) returns to them rather than to the server default.
func WithRuntimeParams(params map[string]string) Option {
	return func(o *options) {
		if o.runtimeParams == nil {
			o.runtimeParams = map[string]string{}
		}
		for k, v := range params {
			o.runtimeParams[k] = v
		}
	}
}
