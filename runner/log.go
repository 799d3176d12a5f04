package runner

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// NewLogger returns a JSON logger at level ("debug", "info", "warn",
// "error"; default info) that masks secrets: any string attribute whose key
// names a token, a password, a secret, a credential, an API key or an
// Authorization header is replaced by "[REDACTED]", at any depth.
func NewLogger(w io.Writer, level string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       ParseLevel(level),
		ReplaceAttr: redactAttr,
	}))
}

// DefaultLogger is NewLogger on stderr at $LOG_LEVEL: what Lambda sends to
// CloudWatch and the devserver shows per invocation.
func DefaultLogger() *slog.Logger { return NewLogger(os.Stderr, os.Getenv("LOG_LEVEL")) }

// ParseLevel reads a LOG_LEVEL value; unknown values mean info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return l
}

// secretKeys are substrings of attribute keys whose values are masked.
var secretKeys = []string{"token", "authorization", "password", "secret", "credential", "api_key", "apikey", "api-key", "write_key"}

// IsSecretKey reports whether a field or header named key holds a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindString && IsSecretKey(a.Key) && a.Value.String() != "" {
		return slog.String(a.Key, "[REDACTED]")
	}
	return a
}
