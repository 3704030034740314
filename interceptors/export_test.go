package interceptors

import "github.com/tokengate/tokengate/internal/settings"

// Unexported names the external tests need.
var (
	WithCredentialClock = withCredentialClock
	ReadPolicyFile      = readPolicyFile
	MaxPolicyFileSize   = settings.MaxFileSize
	ParseUsers          = parseUsers
	ConfigFromLookup    = configFromLookup
)
