package interceptors

import (
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokengate/tokengate/token"
	"github.com/tokengate/tokengate/wire"
)

// policy is what an Authenticator decides with, built whole from a Config
// and swapped whole by Update: a call reads it once, so it never sees half
// of one policy and half of another. Its verifier, and so its cache of
// verified tokens, is its own: nothing verified under one policy is trusted
// under the next.
type policy struct {
	// gen tells policies apart, across every Authenticator of the process:
	// a call's context names its policy by gen, which is smaller than a
	// pointer to it.
	gen         uint32
	verifier    *token.Verifier // nil when authentication is off
	statusToken []byte
	leeway      time.Duration
	users       map[string]struct{} // the allow-list; nil: any user
	// From the Config, to tell a new Config that changes nothing.
	cfg Config
}

// Errors of Update.
var (
	// ErrCannotDisable refuses a new Config with an empty Secret:
	// authentication is turned off only at startup, never by a reload.
	ErrCannotDisable = errors.New("interceptors: a reload cannot turn authentication off (empty secret)")
	// ErrStartedDisabled refuses Update on an Authenticator that started
	// with authentication off: turning it on needs a restart, so that the
	// interceptors are built for it.
	ErrStartedDisabled = errors.New("interceptors: authentication was off at startup; restart to turn it on")
	// ErrFixedSetting refuses a new Config that changes StatusMethods or
	// PublicMethods, which shape the interceptors and are fixed at New.
	ErrFixedSetting = errors.New("interceptors: StatusMethods and PublicMethods are fixed at startup")
	// ErrCannotWiden refuses a new Config without a user list when the
	// policy in force has one: a reload never turns "these users" into
	// "any user" (a list line lost from a file being rewritten would do
	// just that). Restart to drop the list.
	ErrCannotWiden = errors.New("interceptors: a reload cannot drop the users allow-list (any user would be let in)")
	// ErrCannotWeaken refuses a new Config that brings in a secret or
	// previous secret shorter than token.MinSecretSize when the secret in
	// force is not: a reload never weakens the key (a secret file caught
	// with a byte of its new content written would). The short previous
	// secret in force (the old secret of a rotation away from it) may stay
	// the previous secret, and only that. Restart to use a shorter secret,
	// which New accepts with a warning.
	ErrCannotWeaken = errors.New("interceptors: a reload cannot add a secret shorter than 32 bytes")
	// ErrStatusTokenChanged ends a stream opened with a status token that a
	// new policy no longer accepts.
	ErrStatusTokenChanged = errors.New("interceptors: status token changed")
)

// policyGen numbers the policies made in this process.
var policyGen atomic.Uint32

// newPolicy checks cfg and builds the policy it describes.
func (a *Authenticator) newPolicy(cfg Config) (*policy, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	// The policy keeps its own copy of the users: a caller that edits its
	// slice in place and calls Update again must be seen to change them
	// (sameAs). The method lists live in the Authenticator's sets, built
	// once by New.
	cfg.Users = slices.Clone(cfg.Users)
	p := &policy{gen: policyGen.Add(1), statusToken: []byte(cfg.StatusToken), leeway: cfg.Leeway, cfg: cfg}
	for _, u := range cfg.Users {
		if u != "" {
			if p.users == nil {
				p.users = map[string]struct{}{}
			}
			p.users[u] = struct{}{}
		}
	}
	if cfg.Secret == "" {
		return p, nil
	}
	vopts := []token.Option{
		token.WithUsers(cfg.Users...),
		token.WithLeeway(cfg.Leeway),
		token.WithCacheSize(cfg.CacheSize),
	}
	if cfg.PreviousSecret != "" {
		vopts = append(vopts, token.WithPreviousSecrets([]byte(cfg.PreviousSecret)))
	}
	v, err := token.NewVerifier([]byte(cfg.Secret), vopts...)
	if err != nil {
		return nil, err
	}
	p.verifier = v
	return p, nil
}

// weakenedBy reports whether cfg brings in a key shorter than
// token.MinSecretSize under a policy whose secret is not: a short secret,
// or a short previous secret other than p's own. p's short previous secret
// (the old secret of a rotation away from it) may stay where it is, and
// only there.
func (p *policy) weakenedBy(cfg Config) bool {
	return weakerKey(p.cfg.Secret, cfg.Secret) ||
		(cfg.PreviousSecret != p.cfg.PreviousSecret && weakerKey(p.cfg.Secret, cfg.PreviousSecret))
}

// weakerKey reports whether next, a key brought in while secret is in
// force, is shorter than token.MinSecretSize where secret is not: what a
// reload never does, on a server (ErrCannotWeaken) or in a client's
// renewal (MintingCredentialsFromFile).
func weakerKey(secret, next string) bool {
	return len(secret) >= token.MinSecretSize && next != "" && len(next) < token.MinSecretSize
}

// blankSecret reports whether s is a secret of white space only
// (ErrBlankSecret), which neither a server nor a client uses.
func blankSecret(s string) bool { return s != "" && strings.TrimSpace(s) == "" }

// sameAs reports whether cfg describes this policy already, so that a
// reload that changes nothing keeps the cache warm.
func (p *policy) sameAs(cfg Config) bool {
	c := p.cfg
	return c.Secret == cfg.Secret && c.PreviousSecret == cfg.PreviousSecret &&
		slices.Equal(c.Users, cfg.Users) && c.StatusToken == cfg.StatusToken &&
		c.Leeway == cfg.Leeway && c.CacheSize == cfg.CacheSize
}

// PolicyEvent is what an Authenticator reports when a new policy is applied
// or refused, to the hooks added with WithPolicyHook. It never holds a
// secret.
type PolicyEvent struct {
	// Applied is true when the new policy took effect.
	Applied bool
	// Err says why a policy was refused (nil when applied). The previous
	// policy keeps serving.
	Err error
	// Time is when the policy was applied or refused.
	Time time.Time
	// Revoked is the number of open streams the new policy ended.
	Revoked int
}

// PolicyHook sees every policy change and every refused one. It must be
// safe for concurrent use. A hook that panics is logged with its stack (at
// its 1st, 2nd, 4th, 8th… panic) and ignored: the policy is applied (or
// refused) all the same. A hook must never call runtime.Goexit.
type PolicyHook func(PolicyEvent)

// WithPolicyHook adds a hook that sees every Update, applied or refused,
// and every reload a FileWatcher could not read.
func WithPolicyHook(h PolicyHook) Option {
	return func(a *Authenticator) {
		if h != nil {
			a.policyHooks = append(a.policyHooks, hook[PolicyHook]{h, new(atomic.Uint64)})
		}
	}
}

// Update applies a new policy: a new secret, previous secret, user list,
// status token, leeway or cache size. It is how a service that keeps its
// configuration elsewhere (etcd, Consul, its own reloader) changes the
// Authenticator without a restart; NewFileWatcher is built on it.
//
// The new policy takes effect for every call that starts after Update
// returns, atomically. Tokens verified under the old policy are not trusted
// under the new one: its cache starts empty. Every open stream the new
// policy would refuse (its user no longer allowed, its token signed by a
// secret no longer accepted, its status token changed, or, with stream
// expiry on, its token expired or not yet valid under a smaller leeway) is
// ended with Unauthenticated and the reason a new call would get, reported
// to the decision hooks like any denial. Streams it still accepts go on,
// and end when their tokens expire by its leeway.
//
// A Config that New would refuse is refused here too, and so is one that
// turns authentication off (ErrCannotDisable), drops the users allow-list
// (ErrCannotWiden), brings in a key shorter than token.MinSecretSize while
// the secret in force is not (ErrCannotWeaken: a short secret, or a short
// previous secret other than the one in force) or changes StatusMethods or
// PublicMethods (ErrFixedSetting; nil means unchanged): then nothing
// changes, the old policy keeps serving, and the error is logged and
// reported to the policy hooks.
// Update is safe to call concurrently with calls and with itself.
func (a *Authenticator) Update(cfg Config) error {
	err := a.update(cfg)
	if err != nil {
		a.policyRefused(err)
	}
	return err
}

func (a *Authenticator) update(cfg Config) error {
	switch {
	case a.disabled:
		return ErrStartedDisabled
	case cfg.Secret == "":
		return ErrCannotDisable
	case cfg.StatusMethods != nil && !statusMethodSet(cfg.StatusMethods).Equal(a.statusMethods),
		cfg.PublicMethods != nil && !wire.NewMethodSet(cfg.PublicMethods...).Equal(a.publicMethods):
		return ErrFixedSetting
	}
	a.updateMu.Lock()
	defer a.updateMu.Unlock()
	if a.policy.Load().sameAs(cfg) {
		return nil
	}
	p, err := a.newPolicy(cfg)
	if err != nil {
		return err
	}
	cur := a.policy.Load()
	if p.users == nil && cur.users != nil {
		return ErrCannotWiden
	}
	if cur.weakenedBy(cfg) {
		return ErrCannotWeaken
	}
	if len(cfg.Secret) < token.MinSecretSize {
		a.logger.Warn("tokengate: the new secret is shorter than 32 bytes; make a stronger one with `openssl rand -hex 32`",
			"length", len(cfg.Secret))
	}
	a.policy.Store(p)
	revoked := a.streams.revoke(p, a.streamExpiry)
	a.policyApplied(revoked)
	return nil
}

func (a *Authenticator) policyApplied(revoked int) {
	e := PolicyEvent{Applied: true, Time: time.Now(), Revoked: revoked}
	a.logger.Info("tokengate: new policy applied", "streams_ended", revoked)
	a.reportPolicy(e)
}

// policyRefused reports a policy that was not applied: refused by Update,
// or not even read (a FileWatcher's read error).
func (a *Authenticator) policyRefused(err error) {
	e := PolicyEvent{Err: err, Time: time.Now()}
	a.logger.Error("tokengate: new policy refused; the previous one keeps serving", "err", err)
	a.reportPolicy(e)
}

// refuses reports why p refuses a stream that an earlier policy let in, or
// nil if p still accepts it. expiry says streams end when their tokens
// expire (WithStreamExpiry): then a token p finds expired, or not yet
// valid, ends the stream, since p's leeway may be smaller than the one the
// stream's timer was set with. Without it, time never ends a stream, and a
// reload ends only what else p refuses.
func (p *policy) refuses(s *openStream, expiry bool) error {
	if s.statusToken {
		if len(p.statusToken) == 0 || subtle.ConstantTimeCompare([]byte(s.statusTokenValue), p.statusToken) != 1 {
			return ErrStatusTokenChanged
		}
		return nil
	}
	_, err := p.verifier.Verify(s.token)
	switch {
	case expiry && errors.Is(err, token.ErrExpired):
		return ErrTokenExpiredInStream
	case expiry && errors.Is(err, token.ErrNotYetValid):
		return err
	}
	if errors.Is(err, token.ErrExpired) || errors.Is(err, token.ErrNotYetValid) {
		// The verifier judges time before the user, and the signature
		// before both: the signature holds, and the user is left to judge.
		if p.users != nil {
			if _, ok := p.users[s.user]; !ok {
				return token.ErrUserNotAllowed
			}
		}
		return nil
	}
	return err
}
