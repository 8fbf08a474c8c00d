package plugin

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is slog's level for hclog's Trace.
const levelTrace = slog.LevelDebug - 4

// hclogTimeFormat is the timestamp layout go-plugin parses in a plugin's
// JSON log lines.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// hclogger is an hclog.Logger that writes to a slog.Logger: go-plugin logs
// through hclog, Rats-TLS through log/slog.
//
// go-plugin's own messages (process started, exited, killed) are demoted to
// Debug, since the framework logs and returns what matters; the lines a
// plugin writes on its stderr reach the host's logger at the level the
// plugin gave them. go-plugin logs those through Named(plugin file name),
// which is how the two are told apart.
type hclogger struct {
	log     *slog.Logger
	name    string
	own     string // file name whose Named logger carries the plugin's own lines
	demoted bool
	implied []any
}

// newHCLogger bridges go-plugin's logs into l. own is the plugin's file
// name, empty on the plugin side.
func newHCLogger(l *slog.Logger, own string) *hclogger {
	return &hclogger{log: l, own: own, demoted: true}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

func (h *hclogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	sl := slogLevel(level)
	if h.demoted && sl > slog.LevelDebug {
		sl = slog.LevelDebug
	}
	ctx := context.Background()
	if !h.log.Enabled(ctx, sl) {
		return
	}
	all := make([]any, 0, len(h.implied)+len(args))
	all = append(all, h.implied...)
	for i := 0; i+1 < len(args); i += 2 {
		// go-plugin adds the plugin's own timestamp, which slog has, and
		// names the plugin, which the host's logger does already.
		if k, ok := args[i].(string); ok && (k == "timestamp" && !h.demoted || k == "plugin" && h.own != "") {
			continue
		}
		all = append(all, args[i], args[i+1])
	}
	if len(args)%2 == 1 {
		all = append(all, "extra", args[len(args)-1])
	}
	h.log.Log(ctx, sl, msg, all...)
}

func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogger) enabled(l hclog.Level) bool {
	return h.log.Enabled(context.Background(), slogLevel(l))
}

func (h *hclogger) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hclogger) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hclogger) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hclogger) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hclogger) IsError() bool { return h.enabled(hclog.Error) }

func (h *hclogger) ImpliedArgs() []any { return h.implied }

func (h *hclogger) With(args ...any) hclog.Logger {
	c := *h
	c.implied = append(append([]any(nil), h.implied...), args...)
	return &c
}

func (h *hclogger) Name() string { return h.name }

func (h *hclogger) Named(name string) hclog.Logger {
	c := *h
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	c.demoted = h.own == "" || name != h.own
	return &c
}

func (h *hclogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = ""
	return c.Named(name)
}

// SetLevel does nothing: the slog handler decides.
func (h *hclogger) SetLevel(hclog.Level) {}

// GetLevel returns the lowest level the slog handler takes.
func (h *hclogger) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn} {
		if h.enabled(l) {
			return l
		}
	}
	return hclog.Error
}

func (h *hclogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hclogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.Info(string(bytes.TrimRight(p, "\n")))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// pluginLogHandler is the slog handler of a plugin process: hclog-style JSON
// lines on the plugin's stderr, which go-plugin on the host parses and hands
// to the host's logger at their level.
func pluginLogHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
			case slog.LevelKey:
				l, _ := a.Value.Any().(slog.Level)
				return slog.String("@level", hclogLevel(l).String())
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

// parseLogLevel reads a level name as the host writes it in envLogLevel;
// anything else means info.
func parseLogLevel(s string) slog.Level {
	switch l := hclog.LevelFromString(strings.TrimSpace(s)); l {
	case hclog.NoLevel:
		return slog.LevelInfo
	case hclog.Off:
		return slog.LevelError + 100
	default:
		return slogLevel(l)
	}
}
