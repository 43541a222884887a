package telemetry

import (
	"context"
	"net/http"
)

// routeSlot carries the matched pattern from RecordRoute, deep inside the
// handler chain, back out to Middleware. Middlewares in between usually
// pass a copy of the request (r.WithContext), and ServeMux only sets
// Request.Pattern on the copy it receives; the context is shared by all
// copies, so a slot in it survives.
type routeSlot struct{ pattern string }

type routeSlotKey struct{}

func withRouteSlot(ctx context.Context) (context.Context, *routeSlot) {
	s := &routeSlot{}
	return context.WithValue(ctx, routeSlotKey{}, s), s
}

// RecordRoute wraps the ServeMux (or whatever sets Request.Pattern) so
// Middleware, further out, learns the route the request matched:
//
//	var h http.Handler = telemetry.RecordRoute(mux)
//	h = auth.Middleware{...}.Wrap(h) // copies the request: fine
//	h = mw(h)                        // mw from Telemetry.Middleware
func RecordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			// Deferred so a panicking handler still names its span.
			if s, ok := r.Context().Value(routeSlotKey{}).(*routeSlot); ok && r.Pattern != "" {
				s.pattern = r.Pattern
			}
		}()
		next.ServeHTTP(w, r)
	})
}
