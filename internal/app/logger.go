package app

import (
	"io"
	"log/slog"

	"example.com/example-function/internal/config"
)

// NewLogger returns the process logger: JSON that Cloud Logging reads as
// structured entries (severity, message), or text for local runs.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.LevelKey:
			return slog.String("severity", severity(a.Value.Any().(slog.Level)))
		case slog.MessageKey:
			a.Key = "message"
		}
		return a
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
