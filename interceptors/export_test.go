package interceptors

import (
	"time"

	"github.com/tokengate/tokengate/internal/settings"
)

// Unexported names the external tests need.
var (
	WithCredentialClock = withCredentialClock
	WithLogClock        = withLogClock
	WithLogTimer        = withLogTimer
	ReadPolicyFile      = readPolicyFile
	MaxPolicyFileSize   = settings.MaxFileSize
	ParseUsers          = parseUsers
)

// SetFailureRepeat sets how often w reports a reload that keeps failing
// the same way (failureRepeat).
func SetFailureRepeat(w *FileWatcher, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.repeat = d
}

// ConfigFromLookup reads the variables, spelt exactly, from lookup and no
// .env file: the tests drive the value rules through it.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	return configFrom(lookup)
}

// WatchedDirs is the directories w has a watch on.
func WatchedDirs(w *FileWatcher) []string { return w.fs.WatchList() }

// RenewAt is when credentials made by MintingCredentials renew the token
// they last minted.
func RenewAt(c any) time.Time { return c.(*mintingCredentials).current.Load().renewAt }
