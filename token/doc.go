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
// can be rotated without cutting callers off. Verified tokens are cached
// until they expire, which makes a repeated token cost a hash lookup instead
// of an HMAC and two JSON decodes.
//
// # Why not golang-jwt's parser
//
// Signing uses golang-jwt, and the tests hold the Verifier to golang-jwt's
// HMAC and strict base64 decoding, but the JWS and claim checks are
// tokengate's own, because golang-jwt's Parser reaches other verdicts than
// Brevia, or reaches them later:
//
//   - The signature is checked before any JSON is parsed, so a forged token
//     costs one HMAC and never reaches a JSON parser. The Parser decodes
//     the header and the claims first.
//   - Header and claim names match exactly, as keys of Python's dict do:
//     "USER" or "EXP" is another claim (RFC 7519 §4), where encoding/json,
//     decoding into a claims struct, would read it as "user" or let it
//     override "exp".
//   - The registered claims get python-jose's verdicts, listed above. The
//     Parser, given no audience, accepts any aud and ignores at_hash.
//   - exp is Brevia's: NumericDates are whole seconds, compared with the
//     current whole second, so a token is valid through its exp second
//     (exp == now is valid) and from its nbf second on. The Parser counts a
//     token expired from the instant of exp.
//   - Base64 is strict, so that one token has one spelling: unpadded
//     base64url with its spare bits zero (the Parser's WithStrictDecoding),
//     and no byte outside the base64url alphabet and the dots, where Go's
//     decoders, and so the Parser, skip CR and LF.
//
// Every failure is one of the sentinel errors below, to test with errors.Is;
// none of them ever contains the token or the secret.
//
// This package knows nothing of gRPC or HTTP: see package interceptors for
// the server side.
package token
