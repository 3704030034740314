package interceptors

import "github.com/tokengate/tokengate/internal/settings"

// Unexported names the external tests need.
var (
	WithCredentialClock = withCredentialClock
	WithLogClock        = withLogClock
	ReadPolicyFile      = readPolicyFile
	MaxPolicyFileSize   = settings.MaxFileSize
	ParseUsers          = parseUsers
)

// ConfigFromLookup reads the variables, spelt exactly, from lookup and no
// .env file: the tests drive the value rules through it.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	return configFrom(lookup)
}
