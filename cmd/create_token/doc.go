// Create_token makes a bearer token for tokengate, a drop-in for Brevia's
// create_token command: the same flags, the same secret, the same token
// byte for byte.
//
// Install it with
//
//	go install github.com/tokengate/tokengate/cmd/create_token@latest
//
// Usage:
//
//	create_token [-u USER] [-d DURATION] [--json]
//
// It prints an HS256 JSON Web Token with the claims {"user":USER,"exp":…}
// and a newline on standard output, and nothing else, so that
//
//	TOKEN=$(create_token -u ana -d 2h)
//
// works. Warnings and errors go to standard error. The flags are:
//
//	-u, --user USER
//		the user name in the token (default "brevia"); must not be blank.
//	-d, --duration DURATION
//		how long the token is valid: a whole number is minutes, as in
//		Brevia (default 60), read as Python's int() reads it: blanks
//		around, a sign, underscores between digits (" 5", "+5", "1_000").
//		A Go duration such as 90m, 2h or 1h30m is accepted too. It must
//		be at least one second.
//	--json
//		print {"token":…,"user":…,"expires_at":"RFC 3339","exp":unix}
//		and a newline instead of the bare token.
//	-h, --help
//		print the usage on standard output and exit 0.
//
// Flags are read as Brevia's click command reads them: -u ana, --user ana
// and --user=ana, and a short flag may carry its value, so -uana is the
// user "ana", -u=ana the user "=ana" and -user the user "ser"; -d90 is 90
// minutes and -d=90 an error. Positional arguments are refused.
//
// Where create_token still differs from Brevia's command: it refuses a
// duration that is not positive (Brevia signs a token that expires at once
// for -d 0, or is already expired for -d -5), digits or blanks outside
// ASCII in -d ("٣", which Python reads as 3), and a blank user (as Python's
// str.strip sees it) or one that is not valid UTF-8; it also accepts Go
// durations, --json, -h, and the Go spellings -help, -json, --u and --d.
//
// # The secret
//
// The token is signed with TOKENS_SECRET, found as Brevia (pydantic-settings)
// finds it: the name may be in any case, and the variable is taken from the
// environment when it is set there, even to the empty string, and otherwise
// from a .env file in the working directory, read as python-dotenv reads it
// (quotes, escapes, " #" comments, ${VAR} expanded, a bare $VAR kept as
// written), without changing the process environment. The .env file is not
// opened when the environment has TOKENS_SECRET. A missing .env is fine; an
// unreadable one is an error, and so is a .env line about TOKENS_SECRET that
// Brevia would skip or could read otherwise (malformed, without "=", set
// twice with different values, a name with other characters, swallowed by
// an open quote). Lines about other variables that are
// malformed are skipped, as python-dotenv skips them. No message ever quotes
// the file.
//
// Unlike Brevia, create_token refuses to sign with an empty secret (which
// would make a token anyone can forge, and which a tokengate server never
// accepts) and warns when the secret is shorter than 32 bytes, or is JSON
// (python-jose reads its key as JSON before verifying, so Brevia would
// refuse the token: see token.BreviaVerifiesWith). Make one with
//
//	openssl rand -hex 32
//
// TOKENS_SECRET_PREVIOUS, the secret servers still accept during a
// rotation, is never used: tokens are signed with the current secret only.
// The secret is never printed.
//
// # Exit status
//
//	0  the token (or the help) was printed
//	1  unexpected failure, such as standard output not writable
//	2  usage or configuration error: unknown flag, stray argument, bad
//	   duration, blank user, missing or empty TOKENS_SECRET, unreadable
//	   .env, a .env line about TOKENS_SECRET that is malformed or
//	   ambiguous; standard output is then empty
package main
