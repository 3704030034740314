package interceptors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tokengate/tokengate/token"
	"github.com/tokengate/tokengate/wire"
)

// ErrTTLTooShort is returned by MintingCredentials for a lifetime too short
// to leave any time between minting a token and renewing it.
var ErrTTLTooShort = errors.New("interceptors: token lifetime too short for renewal")

// CredentialOption configures the client credentials of BearerToken,
// MintingCredentials and StatusTokenCredentials.
type CredentialOption func(*credentialOptions)

type credentialOptions struct {
	insecure    bool
	now         func() time.Time
	minValidity time.Duration
}

// AllowInsecure lets the credentials be sent over a connection without
// transport security, such as a local plaintext listener in development.
// Without it gRPC refuses to dial plaintext with these credentials, because
// a bearer token sent in clear is readable, and reusable until it expires,
// by anyone on the path.
func AllowInsecure() CredentialOption {
	return func(o *credentialOptions) { o.insecure = true }
}

// withCredentialClock replaces time.Now for MintingCredentials, for tests.
// The other credentials never look at the time.
func withCredentialClock(now func() time.Time) CredentialOption {
	return func(o *credentialOptions) {
		if now != nil {
			o.now = now
		}
	}
}

// WithMinValidity makes MintingCredentials renew its token early enough that
// every call starts with a token valid for more than d, by the client's
// clock: give it the longest a stream of yours stays open, and the server
// (which ends a stream when its token expires) will not cut it. The default
// is the renewal margin, max(ttl/5, 10s); a d smaller than that changes
// nothing. The other credentials never look at the time.
func WithMinValidity(d time.Duration) CredentialOption {
	return func(o *credentialOptions) { o.minValidity = d }
}

func newCredentialOptions(opts []CredentialOption) credentialOptions {
	o := credentialOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// BearerToken returns credentials that send tok on every call as
// "authorization: Bearer <tok>". Install them on a connection with
// grpc.WithPerRPCCredentials, or on one call with grpc.PerRPCCredentials.
//
// The token is sent as it is, expired or not; use MintingCredentials when
// the client holds the secret and should never send a stale token.
func BearerToken(tok string, opts ...CredentialOption) credentials.PerRPCCredentials {
	o := newCredentialOptions(opts)
	return &staticCredentials{key: wire.AuthorizationKey, value: "Bearer " + tok, insecure: o.insecure}
}

// StatusTokenCredentials returns credentials that send statusToken as
// x-status-token metadata, for monitors calling the status methods (see
// Config.StatusToken). It opens nothing else.
func StatusTokenCredentials(statusToken string, opts ...CredentialOption) credentials.PerRPCCredentials {
	o := newCredentialOptions(opts)
	return &staticCredentials{key: wire.StatusTokenKey, value: statusToken, insecure: o.insecure}
}

// staticCredentials send one fixed metadata pair. They are used by pointer,
// so that a struct holding them prints an address, not the token (fmt
// cannot call String on an unexported field).
type staticCredentials struct {
	key, value string
	insecure   bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials. Each call gets
// its own map, so a caller changing it cannot change the next call's.
func (c *staticCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{c.key: c.value}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (c *staticCredentials) RequireTransportSecurity() bool { return !c.insecure }

// String names the credentials without their token, for a caller that logs
// or prints them.
func (c *staticCredentials) String() string { return "tokengate " + c.key + " credentials (redacted)" }

// Format prints String whatever the verb (%d, %x and the others would
// print the fields).
func (c *staticCredentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// minRenewMargin is the least time a minted token has left when it is
// replaced: room for the call to reach the server, and for the server's
// clock to run a little ahead of the client's.
const minRenewMargin = 10 * time.Second

// renewMargin is how long before its expiry a minted token is replaced: a
// fifth of its lifetime, and never less than minRenewMargin.
func renewMargin(ttl time.Duration) time.Duration {
	return max(ttl/5, minRenewMargin)
}

// MintingCredentials returns credentials that make their own tokens for user
// with token.Issue, each valid for ttl, and send them as "authorization:
// Bearer <token>". It is for trusted clients that hold the shared secret,
// such as other services of the same deployment.
//
// The rule that holds: every call starts with a token that has more than
// the renewal margin left, where the margin is max(ttl/5, 10s), or the
// WithMinValidity duration when that is longer. A token is reused until
// only the margin is left; the next call then mints a new one, so minting
// happens once per renewal, not once per call. The credentials are safe for
// concurrent use.
//
// Credentials are sent when a call starts, and the server ends a stream
// when its token expires (see WithStreamExpiry): a stream can count only on
// the margin. For streams that stay open longer than that, set
// WithMinValidity to their longest life.
//
// MintingCredentials returns an error wrapping token.ErrNoSecret for an
// empty secret, ErrBlankSecret for one of white space only (which servers
// refuse), token.ErrInvalidUser for a user token.ValidUser refuses
// (blank, or not UTF-8), and ErrTTLTooShort
// when ttl is not longer than the margin plus the second that token.Issue
// may round off the expiry (with the default margin, when ttl is 11s or
// less).
func MintingCredentials(secret []byte, user string, ttl time.Duration, opts ...CredentialOption) (credentials.PerRPCCredentials, error) {
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("interceptors: minting credentials: %w", token.ErrNoSecret)
	case blankSecret(string(secret)): // as servers refuse it
		return nil, fmt.Errorf("interceptors: minting credentials: %w", ErrBlankSecret)
	}
	if err := token.ValidUser(user); err != nil {
		return nil, fmt.Errorf("interceptors: minting credentials: %w", err)
	}
	o := newCredentialOptions(opts)
	margin := max(renewMargin(ttl), o.minValidity)
	if ttl <= time.Second || ttl-time.Second <= margin { // not margin+time.Second, which a huge margin overflows
		return nil, fmt.Errorf("%w: ttl %v must be longer than %v plus 1s", ErrTTLTooShort, ttl, margin)
	}
	return &mintingCredentials{
		secret:   append([]byte(nil), secret...), // the caller may reuse its slice
		user:     user,
		ttl:      ttl,
		margin:   margin,
		now:      o.now,
		insecure: o.insecure,
	}, nil
}

// MintingCredentialsFromFile is MintingCredentials with the secret read from
// secretFile (as a _FILE variable is read: one trailing newline removed), and
// read again at every renewal, so that a client follows a rotation without a
// restart: it signs with the new secret from its next renewal on. If the
// file cannot be read at a renewal, or holds what a server's reload would
// refuse as a new secret (blank, or shorter than token.MinSecretSize where
// the last was not: a file caught half-written), the last secret read is
// used; a client moves from a long secret to a short one only with a
// restart. If the file cannot be read now, or is empty or blank,
// MintingCredentialsFromFile returns the error.
func MintingCredentialsFromFile(secretFile, user string, ttl time.Duration, opts ...CredentialOption) (credentials.PerRPCCredentials, error) {
	s, err := readPolicyFile(secretFile)
	if err != nil {
		return nil, fmt.Errorf("interceptors: minting credentials: %w", err)
	}
	c, err := MintingCredentials([]byte(s), user, ttl, opts...)
	if err != nil {
		return nil, err
	}
	m := c.(*mintingCredentials)
	m.secretFile = secretFile
	return m, nil
}

type mintingCredentials struct {
	secret     []byte // the secret of the last renewal
	secretFile string // when set, read again at every renewal
	user       string
	ttl        time.Duration
	margin     time.Duration
	now        func() time.Time
	insecure   bool

	current atomic.Pointer[mintedToken] // read without the lock on every call
	mu      sync.Mutex                  // held while minting, so one call mints
}

// acceptsSecret reports whether s, read from the secret file at a renewal,
// may replace the secret in use, by the rules a server's reload follows.
func (c *mintingCredentials) acceptsSecret(s string) bool {
	return s != "" && !blankSecret(s) && !weakerKey(string(c.secret), s)
}

type mintedToken struct {
	header  string    // "Bearer <token>"
	renewAt time.Time // with the monotonic reading of the time it was minted
}

// due reports whether t must be renewed at now: once either clock says so.
// The monotonic clock keeps a wall clock set back from holding on to a
// token past its expiry; the wall clock renews at once after a suspend
// (during which the monotonic clock stops) or a wall clock set forward,
// as servers judge exp by wall time.
func (t *mintedToken) due(now time.Time) bool {
	return !now.Before(t.renewAt) || !now.Round(0).Before(t.renewAt.Round(0))
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c *mintingCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	t, err := c.token()
	if err != nil {
		return nil, err
	}
	return map[string]string{wire.AuthorizationKey: t.header}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (c *mintingCredentials) RequireTransportSecurity() bool { return !c.insecure }

// String names the credentials without their secret or token, for a caller
// that logs or prints them.
func (c *mintingCredentials) String() string {
	return fmt.Sprintf("tokengate minting credentials for %q, ttl %v (secret redacted)", c.user, c.ttl)
}

// Format prints String whatever the verb (%d, %x and the others would
// print the fields).
func (c *mintingCredentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

func (c *mintingCredentials) token() (*mintedToken, error) {
	now := c.now()
	if t := c.current.Load(); t != nil && !t.due(now) {
		return t, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Another call may have minted while this one waited for the lock.
	if t := c.current.Load(); t != nil && !t.due(now) {
		return t, nil
	}
	if c.secretFile != "" {
		// A rotated secret is used from the next renewal on. A file that
		// cannot be read for a moment (a swap under way) is no reason to
		// fail a call: the last secret read still signs. Nor is one that
		// holds what the server would refuse as a new secret (blank, or
		// shorter than token.MinSecretSize where the last was not: a file
		// caught with a byte of its new content written), which would
		// sign tokens no server accepts until the next renewal.
		if s, err := readPolicyFile(c.secretFile); err == nil && c.acceptsSecret(s) {
			c.secret = []byte(s)
		}
		now = c.now() // the read may have taken a while
	}
	tok, claims, err := token.Issue(c.secret, c.user, c.ttl, now)
	if err != nil {
		return nil, err
	}
	t := &mintedToken{header: "Bearer " + tok, renewAt: now.Add(claims.ExpiresAt.Sub(now) - c.margin)}
	c.current.Store(t)
	return t, nil
}
