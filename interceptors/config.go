package interceptors

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tokengate/tokengate/token"
)

// Config is everything an Authenticator needs to decide. Its zero value
// turns authentication off, as an empty TOKENS_SECRET does in Brevia.
type Config struct {
	// Secret is the HMAC key tokens are signed with (TOKENS_SECRET).
	// Empty turns authentication off: every call passes.
	Secret string
	// PreviousSecret is still accepted for verification while a rotation is
	// under way (TOKENS_SECRET_PREVIOUS). It never signs anything.
	PreviousSecret string
	// Users, when not empty, is the list of users a token may name
	// (TOKENS_USERS). Matching is exact and case-sensitive.
	Users []string
	// StatusToken lets monitors call the status methods without a JWT
	// (STATUS_TOKEN), sent as x-status-token metadata. Empty disables it.
	StatusToken string
	// StatusMethods are the full method names (/pkg.Service/Method) on which
	// the status token is accepted. A name ending in "/" covers every method
	// of that service. Nil means DefaultStatusMethods.
	StatusMethods []string
	// PublicMethods skip authentication entirely (same syntax as
	// StatusMethods). Default none.
	PublicMethods []string
	// Leeway tolerates clock skew on exp, nbf and iat (TOKENS_LEEWAY).
	Leeway time.Duration
	// CacheSize bounds the cache of verified tokens (TOKENS_CACHE_SIZE).
	// 0 means token.DefaultCacheSize; a negative value turns the cache off.
	CacheSize int
}

// DefaultStatusMethods are the methods a status token opens when
// Config.StatusMethods is nil: tokengate's own status RPC and the standard
// gRPC health service, so that grpc-health-probe can use the status token.
var DefaultStatusMethods = []string{
	"/tokengate.v1.StatusService/Status",
	"/grpc.health.v1.Health/",
}

// Environment variables read by ConfigFromEnv.
const (
	EnvSecret         = "TOKENS_SECRET"
	EnvPreviousSecret = "TOKENS_SECRET_PREVIOUS"
	EnvUsers          = "TOKENS_USERS"
	EnvStatusToken    = "STATUS_TOKEN"
	EnvLeeway         = "TOKENS_LEEWAY"
	EnvCacheSize      = "TOKENS_CACHE_SIZE"
)

// ConfigFromEnv reads the Config from the process environment. It is meant
// for main packages: libraries should take a Config from their caller.
func ConfigFromEnv() (Config, error) {
	return ConfigFromLookup(os.LookupEnv)
}

// ConfigFromLookup is ConfigFromEnv with another source of variables.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	cfg := Config{
		Secret:         get(EnvSecret),
		PreviousSecret: get(EnvPreviousSecret),
		Users:          ParseUsers(get(EnvUsers)),
		StatusToken:    get(EnvStatusToken),
	}
	if s := strings.TrimSpace(get(EnvLeeway)); s != "" {
		d, err := parseSecondsOrDuration(s)
		if err != nil || d < 0 {
			return Config{}, fmt.Errorf("%s=%q: want seconds (30) or a Go duration (30s)", EnvLeeway, s)
		}
		cfg.Leeway = d
	}
	if s := strings.TrimSpace(get(EnvCacheSize)); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n > token.MaxCacheSize {
			return Config{}, fmt.Errorf("%s=%q: want an integer up to %d (negative turns the cache off)", EnvCacheSize, s, token.MaxCacheSize)
		}
		cfg.CacheSize = n
	}
	return cfg, nil
}

// ParseUsers splits a TOKENS_USERS value on commas, trims spaces around each
// name and drops empty names. Brevia does not trim, so "ana, bob" would
// never match bob there; here it does.
func ParseUsers(s string) []string {
	var users []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	return users
}

func parseSecondsOrDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}
