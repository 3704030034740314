package interceptors

// Unexported names the external tests need.
var (
	WithCredentialClock = withCredentialClock
	ReadPolicyFile      = readPolicyFile
	MaxPolicyFileSize   = maxPolicyFileSize
	ParseUsers          = parseUsers
)
