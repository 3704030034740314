// Package token makes and verifies the bearer tokens of tokengate: HS256
// JSON Web Tokens with a "user" and an "exp" claim, byte-compatible with the
// tokens of Brevia (python-jose) in both directions.
//
// Sign and Issue make tokens. A Verifier checks them with rules that are
// Brevia's where Brevia is safe and stricter where it is not: only HS256,
// exp required, nbf and iat honoured, a non-blank string user, an optional
// allow-list of users, and no token larger than 8 KiB. Like python-jose
// called as Brevia calls it (no audience, no access token), it refuses a
// token carrying aud or at_hash, or a sub or jti that is not a string.
// Several secrets can be accepted at once (WithPreviousSecrets) so a secret
// can be rotated without cutting callers off. Verified tokens are cached until they expire, which
// makes a repeated token cost a hash lookup instead of an HMAC and two JSON
// decodes; VerifyShared hands out the cached result itself (read-only)
// where Verify returns a copy of the claims.
//
// Every failure is one of the sentinel errors below, to test with errors.Is;
// none of them ever contains the token or the secret.
//
// This package knows nothing of gRPC or HTTP: see package interceptors for
// the server side.
package token
