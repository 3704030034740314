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
//		how long the token is valid: a bare integer is minutes, as in
//		Brevia (default 60); a Go duration such as 90m, 2h or 1h30m is
//		accepted too. It must be at least one second.
//	--json
//		print {"token":…,"user":…,"expires_at":"RFC 3339","exp":unix}
//		and a newline instead of the bare token.
//	-h, --help
//		print the usage on standard output and exit 0.
//
// Each flag may be written -u ana, --user ana, -u=ana or --user=ana; the
// click-style attached forms -uana and -d90 of Brevia's command work too.
// Positional arguments are refused.
//
// # The secret
//
// The token is signed with TOKENS_SECRET. As in Brevia (pydantic-settings),
// the variable is taken from the environment when it is set there, even to
// the empty string, and otherwise from a .env file in the working directory,
// read with github.com/joho/godotenv without changing the process
// environment. A missing .env is fine; an unreadable or malformed one is an
// error, whose message never quotes the file (it may hold the secret). The
// .env file is not opened when the environment has TOKENS_SECRET.
//
// Unlike Brevia, create_token refuses to sign with an empty secret (which
// would make a token anyone can forge, and which a tokengate server never
// accepts) and warns when the secret is shorter than 32 bytes. Make one with
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
//	   duration, blank user, missing or empty TOKENS_SECRET, unreadable or
//	   malformed .env; standard output is then empty
package main
