package interceptors

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tokengate/tokengate/internal/settings"
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
	// (STATUS_TOKEN), sent as x-status-token metadata. Empty disables it;
	// white space only is refused (ErrBlankSecret).
	StatusToken string
	// StatusMethods are the full method names (/pkg.Service/Method) on which
	// the status token is accepted. A name ending in "/" covers every method
	// of that service. Nil means wire.DefaultStatusMethods.
	StatusMethods []string
	// PublicMethods skip authentication entirely (same syntax as
	// StatusMethods). Default none.
	PublicMethods []string
	// Leeway tolerates clock skew on exp, nbf and iat (TOKENS_LEEWAY), up
	// to token.MaxLeeway (see token.CheckLeeway).
	Leeway time.Duration
	// CacheSize bounds the cache of verified tokens (TOKENS_CACHE_SIZE).
	// 0 means token.DefaultCacheSize; a negative value turns the cache off.
	CacheSize int
}

// Environment variables read by ConfigFromEnv, whatever their case.
const (
	envSecret         = "TOKENS_SECRET"
	envPreviousSecret = "TOKENS_SECRET_PREVIOUS"
	envUsers          = "TOKENS_USERS"
	envStatusToken    = "STATUS_TOKEN"
	envLeeway         = "TOKENS_LEEWAY"
	envCacheSize      = "TOKENS_CACHE_SIZE"
)

// fileSuffix turns a variable's name into the name of the variable that
// names a file holding its value (the _FILE convention of Docker's official
// images): TOKENS_SECRET_FILE, TOKENS_SECRET_PREVIOUS_FILE,
// TOKENS_USERS_FILE and STATUS_TOKEN_FILE. A file's value is its content
// with one trailing newline removed; a users file holds one user a line or
// commas, with blank lines and "#" comments ignored. Setting both a
// variable and its _FILE variable is an error.
const fileSuffix = "_FILE"

// fileNames are the variables that may come from a file: the policy, which
// NewFileWatcher reloads.
var fileNames = []string{envSecret, envPreviousSecret, envUsers, envStatusToken}

var envNames = []string{envSecret, envPreviousSecret, envUsers, envStatusToken, envLeeway, envCacheSize,
	envSecret + fileSuffix, envPreviousSecret + fileSuffix, envUsers + fileSuffix, envStatusToken + fileSuffix}

// dotEnvFile is where ConfigFromEnv looks, in the working directory, for
// the variables the environment lacks, as Brevia does.
const dotEnvFile = ".env"

// ConfigFromEnv reads the Config as Brevia reads its settings: each
// variable from the process environment if it is set there (even empty),
// else from ./.env; names in any case. It is meant for main packages:
// libraries should take a Config from their caller. See ConfigFromEnviron
// for the rules and the errors.
func ConfigFromEnv() (Config, error) {
	return ConfigFromEnviron(os.Environ(), dotEnvFile)
}

// ConfigFromEnviron is ConfigFromEnv with the environment given as
// KEY=VALUE strings (the form of os.Environ) and the .env file's path; ""
// reads no file. A missing file is fine. The .env file is read as
// python-dotenv reads it (quotes, escapes, inline comments, ${VAR}
// expansion, a bare $VAR kept as written).
//
// Everything that could leave authentication weaker than the files say is
// an error, to stop the server at startup: a .env that exists but cannot be
// read or decoded, a malformed .env line that mentions one of the
// variables, a variable set twice in one source under different spellings
// with different values, a variable set both directly and through its
// _FILE variable (ErrBothSet), TOKENS_SECRET_FILE or TOKENS_USERS_FILE set
// to nothing while its variable is empty too, a _FILE that cannot be read (ErrPolicyFile)
// or holds an empty secret or status token, a secret of white space only (ErrBlankSecret), a TOKENS_USERS that is set but names no user
// (ErrNoUsers), a TOKENS_LEEWAY that is not a duration or is outside what
// token.CheckLeeway allows, and a TOKENS_CACHE_SIZE that is not an integer
// up to token.MaxCacheSize. Errors name variables and lines, never a
// secret.
func ConfigFromEnviron(environ []string, dotEnvPath string) (Config, error) {
	values, err := settings.Load(environ, dotEnvPath, envNames...)
	if err != nil {
		return Config{}, err
	}
	return configFrom(func(k string) (string, bool) { v, ok := values[k]; return v, ok })
}

// PolicyFiles returns the files that the _FILE variables name, read as
// ConfigFromEnviron reads them: the files a NewFileWatcher should watch.
func PolicyFiles(environ []string, dotEnvPath string) ([]string, error) {
	values, err := settings.Load(environ, dotEnvPath, envNames...)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, name := range fileNames {
		if f := values[name+fileSuffix]; f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// ErrBothSet refuses a variable set both directly and through its _FILE
// variable: which one was meant cannot be known.
var ErrBothSet = errors.New("interceptors: a variable and its _FILE variable are both set")

func configFrom(lookup func(string) (string, bool)) (Config, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	values := make(map[string]string, len(fileNames))
	fromFile := make(map[string]bool, len(fileNames))
	for _, name := range fileNames {
		path, set := lookup(name + fileSuffix)
		if path == "" {
			values[name] = get(name)
			// An empty _FILE is a path that was never filled in (an unset
			// variable in a template): for the secret or the users it is
			// refused rather than read as none, which would turn
			// authentication off or let any user in. (No previous secret
			// or status token only lets fewer calls in.)
			if set && values[name] == "" && (name == envSecret || name == envUsers) {
				return Config{}, fmt.Errorf("%s is set but empty: name the file, or unset it", name+fileSuffix)
			}
			continue
		}
		if get(name) != "" {
			return Config{}, fmt.Errorf("%w: %s and %s; keep one", ErrBothSet, name, name+fileSuffix)
		}
		v, err := readPolicyFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", name+fileSuffix, err)
		}
		values[name], fromFile[name] = v, true
	}
	cfg := Config{
		Secret:         values[envSecret],
		PreviousSecret: values[envPreviousSecret],
		StatusToken:    values[envStatusToken],
	}
	// A secret file that is empty is a file being written, or a mistake:
	// authentication is turned off by leaving TOKENS_SECRET empty, never by
	// emptying a file.
	if fromFile[envSecret] && cfg.Secret == "" {
		return Config{}, fmt.Errorf("%s names an empty file: put the secret in it (make one with `openssl rand -hex 32`), or unset it to turn authentication off", envSecret+fileSuffix)
	}
	// So is a status-token file (one holding only a newline too): read as
	// none, it would lock the monitors out and end their open Watch
	// streams. An empty previous-secret file ends a rotation.
	if fromFile[envStatusToken] && cfg.StatusToken == "" {
		return Config{}, fmt.Errorf("%s names an empty file: put the status token in it, or unset it to turn the status token off", envStatusToken+fileSuffix)
	}
	users := values[envUsers]
	if fromFile[envUsers] {
		cfg.Users = parseUsersFile(users)
		if len(cfg.Users) == 0 {
			return Config{}, fmt.Errorf("%w: %s names no user: list the users a token may name, or unset it to allow any user", ErrNoUsers, envUsers+fileSuffix)
		}
	} else {
		cfg.Users = parseUsers(users)
		// Brevia reads an empty TOKENS_USERS as "no list" (if not
		// valid_users), and a list of nothing as "nobody": refuse the
		// second rather than start a server that lets no one in, or, once
		// trimmed, everyone.
		if users != "" && len(cfg.Users) == 0 {
			return Config{}, fmt.Errorf("%w: %s=%q; list the users a token may name (ana,bob), or leave it empty to allow any user", ErrNoUsers, envUsers, users)
		}
	}
	if s := strings.TrimSpace(get(envLeeway)); s != "" {
		d, err := parseLeeway(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want seconds (30) or a Go duration (30s), at most %v", envLeeway, s, token.MaxLeeway)
		}
		if err := token.CheckLeeway(d); err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", envLeeway, s, err)
		}
		cfg.Leeway = d
	}
	if s := strings.TrimSpace(get(envCacheSize)); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n > token.MaxCacheSize {
			return Config{}, fmt.Errorf("%s=%q: want an integer up to %d (negative turns the cache off)", envCacheSize, s, token.MaxCacheSize)
		}
		cfg.CacheSize = n
	}
	return cfg, nil
}

// parseUsers splits a TOKENS_USERS value on commas, trims spaces around each
// name and drops empty names. Brevia does not trim, so "ana, bob" would
// never match bob there; here it does.
func parseUsers(s string) []string {
	var users []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	return users
}

// parseUsersFile reads a TOKENS_USERS_FILE: one user a line, or several
// separated by commas; "#" starts a comment that runs to the end of its
// line, and blank lines and blank names are ignored.
func parseUsersFile(s string) []string {
	var users []string
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		users = append(users, parseUsers(line)...)
	}
	return users
}

// parseLeeway reads seconds (30) or a Go duration (30s). Seconds too many
// for a Duration saturate instead of wrapping round to a small value, so
// that token.CheckLeeway refuses them.
func parseLeeway(s string) (time.Duration, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return time.ParseDuration(s)
	}
	switch {
	case n > int64(math.MaxInt64/time.Second):
		return math.MaxInt64, nil
	case n < int64(math.MinInt64/time.Second):
		return math.MinInt64, nil
	}
	return time.Duration(n) * time.Second, nil
}
