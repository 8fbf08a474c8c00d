package plugin

import (
	"errors"

	"github.com/inclavare/inclavare/framework/instance"
)

// Sentinel errors. A failing plugin call wraps one of them, with a message
// that names the plugin path and what happened; test with errors.Is.
var (
	// ErrExited is wrapped when the plugin process exited (crashed) while
	// the host waited on it, or before its handshake.
	ErrExited = errors.New("plugin exited")
	// ErrTimeout is wrapped when the plugin did not start or answer within
	// its bound (Config.StartTimeout, or the call's deadline, by default
	// Config.CallTimeout). The process has been killed.
	ErrTimeout = errors.New("plugin did not answer in time")
	// ErrMalformed is wrapped when the plugin answered something that is not
	// a valid answer (a garbage handshake line, an empty evidence type, a
	// public key that does not parse, a signature that does not verify).
	// The process has been killed.
	ErrMalformed = errors.New("plugin answered malformed data")
	// ErrUntrusted is wrapped when a plugin is refused before it is started:
	// it is missing from its directory's manifest, does not match its
	// checksum, or is writable by others.
	ErrUntrusted = errors.New("plugin not trusted")
	// ErrKeyLost is wrapped when a crypto plugin is asked to use a key it no
	// longer holds: keys live in the plugin process and do not survive its
	// restart (after a crash or a timeout) or the instance's Close.
	ErrKeyLost = instance.ErrKeyLost
)

// pluginError is an error with its own message that also matches the
// sentinels and causes in errs. It lets messages read naturally ("plugin X
// exited during Collect") without repeating the sentinel's text.
type pluginError struct {
	msg  string
	errs []error
}

func (e *pluginError) Error() string { return e.msg }

func (e *pluginError) Unwrap() []error { return e.errs }

// malformed is returned by a response check inside a call; the call
// machinery turns it into an ErrMalformed failure naming the plugin.
type malformed struct{ what string }

func (m *malformed) Error() string { return m.what }
