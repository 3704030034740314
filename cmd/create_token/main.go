package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokengate/tokengate/internal/settings"
	"github.com/tokengate/tokengate/token"
)

const (
	progName      = "create_token"
	envSecret     = "TOKENS_SECRET"
	envSecretFile = "TOKENS_SECRET_FILE"
	dotEnvFile    = ".env"
	makeSecret    = "openssl rand -hex 32"
	defaultUser   = "brevia"
	defaultTTL    = 60 * time.Minute
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // unexpected: stdout not writable, signing failed
	exitUsage   = 2 // bad flags, no secret, unreadable or malformed .env
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Environ(), time.Now))
}

// run is the whole command: it parses args, finds the secret in environ
// (KEY=VALUE strings) or ./.env, signs with the clock now and writes the
// token to stdout. It returns the exit code.
func run(args []string, stdout, stderr io.Writer, environ []string, now func() time.Time) int {
	user := defaultUser
	ttl := durationFlag(defaultTTL)
	var asJSON bool
	flags := newFlagSet(&user, &ttl, &asJSON)
	if err := flags.Parse(clickShortOptions(flags, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if _, err := io.WriteString(stdout, helpText); err != nil {
				return exitFailure
			}
			return exitOK
		}
		return usageError(stderr, err.Error())
	}
	if flags.NArg() > 0 {
		return usageError(stderr, fmt.Sprintf("unexpected argument %q (flags only)", flags.Arg(0)))
	}
	if token.ValidUser(user) != nil {
		return usageError(stderr, "the user (-u) must not be blank, and must be valid UTF-8")
	}

	secret, err := loadSecret(environ)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", progName, err)
		return exitUsage
	}
	if len(secret) < token.MinSecretSize {
		fmt.Fprintf(stderr, "%s: warning: %s is %d bytes, shorter than the %d that HS256 wants; make a stronger one with: %s\n",
			progName, envSecret, len(secret), token.MinSecretSize, makeSecret)
	}
	if !token.BreviaVerifiesWith([]byte(secret)) {
		fmt.Fprintf(stderr, "%s: warning: Brevia (python-jose) would refuse this token: it reads a %s that is JSON (a quoted string, an object, a list...) as the JSON's value, and refuses one holding a public key or certificate; make one with: %s\n",
			progName, envSecret, makeSecret)
	}

	tok, claims, err := token.Issue([]byte(secret), user, time.Duration(ttl), now())
	if err != nil {
		// Everything Issue can refuse was checked above.
		fmt.Fprintf(stderr, "%s: cannot sign the token: %v\n", progName, err)
		return exitFailure
	}

	out := tok + "\n"
	if asJSON {
		b, err := json.Marshal(jsonOutput{
			Token:     tok,
			User:      claims.User,
			ExpiresAt: claims.ExpiresAt.UTC().Format(time.RFC3339),
			Exp:       claims.ExpiresAt.Unix(),
		})
		if err != nil {
			fmt.Fprintf(stderr, "%s: cannot encode JSON: %v\n", progName, err)
			return exitFailure
		}
		out = string(b) + "\n"
	}
	if _, err := io.WriteString(stdout, out); err != nil {
		fmt.Fprintf(stderr, "%s: cannot write the token: %v\n", progName, err)
		return exitFailure
	}
	return exitOK
}

// newFlagSet registers each flag under its short and long name, on the same
// variable; the flag package accepts -x and --x alike.
func newFlagSet(user *string, ttl *durationFlag, asJSON *bool) *flag.FlagSet {
	flags := flag.NewFlagSet(progName, flag.ContinueOnError)
	flags.SetOutput(io.Discard) // we print our own one-line errors and help
	flags.Usage = func() {}
	flags.StringVar(user, "u", *user, "")
	flags.StringVar(user, "user", *user, "")
	flags.Var(ttl, "d", "")
	flags.Var(ttl, "duration", "")
	flags.BoolVar(asJSON, "json", *asJSON, "")
	return flags
}

type jsonOutput struct {
	Token     string `json:"token"`
	User      string `json:"user"`
	ExpiresAt string `json:"expires_at"`
	Exp       int64  `json:"exp"`
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", progName, msg, progName)
	return exitUsage
}

// loadSecret returns TOKENS_SECRET as Brevia (pydantic-settings) finds it:
// from the environment if the variable is set there in any case, even to
// the empty string; otherwise from ./.env, read as python-dotenv reads it; a
// missing .env is no error. The .env file is not opened at all when the
// environment has the variable. TOKENS_SECRET_FILE, found the same way,
// names a file holding the secret instead (read as settings.ReadFile reads
// it); both in one place is an error. The returned secret is never empty
// when err is nil, and no error quotes it.
func loadSecret(environ []string) (string, error) {
	fromEnv, err := settings.Load(environ, "", envSecret, envSecretFile)
	if err != nil {
		return "", err
	}
	if v, ok, err := secretFromFile(fromEnv); ok {
		return v, err
	}
	if v, ok := fromEnv[envSecret]; ok {
		if v == "" {
			return "", fmt.Errorf("%s is set but empty in the environment (which wins over %s; unset it to use %s); make a secret with: %s",
				envSecret, dotEnvFile, dotEnvFile, makeSecret)
		}
		return v, nil
	}
	fromFile, err := settings.Load(environ, dotEnvFile, envSecret, envSecretFile)
	if err != nil {
		return "", err
	}
	if v, ok, err := secretFromFile(fromFile); ok {
		return v, err
	}
	v, ok := fromFile[envSecret]
	switch {
	case !ok:
		return "", fmt.Errorf("%s is not set (neither in the environment nor in %s); make a secret with: %s",
			envSecret, dotEnvFile, makeSecret)
	case v == "":
		return "", fmt.Errorf("%s is empty in %s; make a secret with: %s", envSecret, dotEnvFile, makeSecret)
	}
	return v, nil
}

// secretFromFile reads the secret from the file TOKENS_SECRET_FILE names in
// vars; ok is false when vars names none.
func secretFromFile(vars map[string]string) (secret string, ok bool, err error) {
	path := vars[envSecretFile]
	if path == "" {
		return "", false, nil
	}
	if vars[envSecret] != "" {
		return "", true, fmt.Errorf("both %s and %s are set; keep one", envSecret, envSecretFile)
	}
	v, err := settings.ReadFile(path)
	if err != nil {
		return "", true, fmt.Errorf("%s: %w", envSecretFile, err)
	}
	if v == "" {
		return "", true, fmt.Errorf("%s names an empty file; put the secret in it (make one with: %s)", envSecretFile, makeSecret)
	}
	return v, true, nil
}

// durationFlag is -d/--duration: a bare integer is minutes (Brevia's
// meaning), anything else a Go duration such as 90m, 2h or 1h30m.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}

// parseDuration reads -d: an integer as Python's int() reads it (Brevia's
// click option has type int), in minutes; else a Go duration.
func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	n, err := parsePythonInt(s)
	switch {
	case err == nil || errors.Is(err, strconv.ErrRange): // minutes
		if n <= 0 {
			return 0, errors.New("the duration must be positive")
		}
		if err != nil || n > math.MaxInt64/int64(time.Minute) {
			return 0, errors.New("the duration is too long")
		}
		d = time.Duration(n) * time.Minute
	default:
		if d, err = time.ParseDuration(s); err != nil {
			msg := "not minutes (90) nor a duration (90m, 2h, 1h30m)"
			if !isASCII(s) {
				msg += "; write it in ASCII"
			}
			return 0, errors.New(msg)
		}
	}
	if d <= 0 {
		return 0, errors.New("the duration must be positive")
	}
	if d < time.Second {
		return 0, errors.New("the duration must be at least 1s")
	}
	return d, nil
}

func isASCII(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) < 0
}

// errNotInt is what parsePythonInt returns for text that is no integer.
var errNotInt = errors.New("not an integer")

// parsePythonInt reads s as Python's int(s) does for ASCII text, so that
// command lines written for Brevia read the same: blanks around, one
// optional sign, digits with single underscores between them (" 5", "+5",
// "1_000", "007"). Python also reads digits and blanks of other scripts
// ("٣", "５", U+00A0); those are refused here, as is anything non-ASCII. An
// integer beyond int64 returns the nearest int64 and strconv.ErrRange.
func parsePythonInt(s string) (int64, error) {
	t := strings.Trim(s, " \t\n\v\f\r")
	sign := ""
	if t != "" && (t[0] == '+' || t[0] == '-') {
		sign, t = t[:1], t[1:]
	}
	if t == "" || t[0] == '_' || t[len(t)-1] == '_' || strings.Contains(t, "__") {
		return 0, errNotInt
	}
	t = strings.ReplaceAll(t, "_", "")
	if strings.Trim(t, "0123456789") != "" {
		return 0, errNotInt
	}
	return strconv.ParseInt(sign+t, 10, 64)
}

// clickShortOptions splits what click reads as a short option with its
// value attached into the two arguments the flag package wants: -uana is
// -u ana, -d90 is -d 90, and, as in click, -u=ana is the user "=ana" and
// -user is the user "ser". The value after a flag that takes one is left
// alone, whatever it looks like, and so is everything after "--".
func clickShortOptions(flags *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args)+1)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && (strings.HasPrefix(a, "-u") || strings.HasPrefix(a, "-d")) {
			out = append(out, a[:2], a[2:])
			continue
		}
		out = append(out, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := flags.Lookup(name); f != nil && strings.HasPrefix(a, "-") && !hasValue && i+1 < len(args) {
			if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
				i++
				out = append(out, args[i]) // the flag's value
			}
		}
	}
	return out
}

const helpText = `Usage: create_token [-u USER] [-d DURATION] [--json]

Makes a bearer token for tokengate (and Brevia): an HS256 JWT with the claims
{"user":USER,"exp":now+DURATION}, signed with TOKENS_SECRET, and prints it on
stdout followed by a newline, nothing else:

    TOKEN=$(create_token -u ana -d 2h)

Flags:
  -u, --user USER          user name in the token (default "brevia")
  -d, --duration DURATION  validity: a whole number is minutes, read as
                           Python's int() reads it (90, " 90", +90, 1_000),
                           or a Go duration (90m, 2h, 1h30m) (default 60)
      --json               print {"token","user","expires_at","exp"} as one
                           JSON object instead of the bare token
  -h, --help               print this help and exit
  As in Brevia's create_token (click), a short flag may carry its value:
  -uana, -d90. Everything after -u is the value, so -u=ana is the user
  "=ana": write -u ana or --user=ana.

Environment:
  TOKENS_SECRET  the HMAC secret to sign with; required, at least 32 bytes
                 recommended. Make one with: openssl rand -hex 32
                 The name may be in any case (tokens_secret). If the
                 environment lacks it, it is read from a .env file in the
                 working directory, as Brevia reads it (python-dotenv:
                 quotes, escapes, # comments, ${VAR} expanded, a bare $VAR
                 kept). The environment wins, even when set to the empty
                 string (then create_token refuses): unset it to use .env.
  TOKENS_SECRET_FILE  a file holding the secret instead (one trailing
                 newline removed), found the same way; not with TOKENS_SECRET.
  TOKENS_SECRET_PREVIOUS is not used: tokens are always signed with the
                 current secret.

Exit status:
  0  the token was printed (or this help)
  1  unexpected failure, such as stdout not writable
  2  usage or configuration error: bad flag or duration, missing or empty
     TOKENS_SECRET, unreadable .env, or a .env line about TOKENS_SECRET that
     is malformed or ambiguous
`
