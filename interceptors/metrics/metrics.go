package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokengate/tokengate/interceptors"
)

// Values of the result label.
const (
	ResultAllowed = "allowed"
	ResultDenied  = "denied"
)

// Values of the result label of tokengate_policy_reloads_total.
const (
	ReloadApplied  = "applied"
	ReloadRejected = "rejected"
)

// Metrics holds the collectors fed by Hook and PolicyHook.
type Metrics struct {
	reloadsApplied, reloadsRejected prometheus.Counter
	policyApplied                   prometheus.Gauge

	decisions *prometheus.CounterVec
	// counters caches decisions' counters by series, so that a decision
	// costs one lookup in a plain map instead of hashing and checking its
	// three label values (GetMetricWithLabelValues). The map is never
	// changed once published: a new series copies it (under mu), which is
	// rare, and bounded (maxMethods).
	counters atomic.Pointer[map[series]prometheus.Counter]
	// Under mu: the method label's values so far, and whether the bound
	// on them (maxMethods, half for denials) was reported, by bound.
	mu         sync.Mutex
	methods    map[string]struct{}
	maxMethods int
	warned     map[int]bool // by the bound reached
	// One observer per result, looked up once rather than on every call.
	allowedSeconds prometheus.Observer
	deniedSeconds  prometheus.Observer
}

// New makes the collectors and registers them with reg
// (prometheus.DefaultRegisterer when nil). A registration error, such as
// registering twice with the same registry, is returned and nothing is left
// registered.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokengate_auth_decisions_total",
		Help: "Authentication decisions by gRPC method, result (allowed or denied) and reason.",
	}, []string{"method", "result", "reason"})
	seconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tokengate_auth_verification_seconds",
		Help: "Time taken to decide whether a call's credentials let it in.",
		// 100ns, 250ns, 500ns, 1µs, … 10ms: cache hits sit at the bottom,
		// full verifications in the microseconds.
		Buckets: []float64{
			100e-9, 250e-9, 500e-9,
			1e-6, 2.5e-6, 5e-6,
			10e-6, 25e-6, 50e-6,
			100e-6, 250e-6, 500e-6,
			1e-3, 2.5e-3, 5e-3, 10e-3,
		},
	}, []string{"result"})

	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokengate_policy_reloads_total",
		Help: "New policies (secrets, users, status token) applied or rejected; a rejected one leaves the previous policy serving.",
	}, []string{"result"})
	applied := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tokengate_policy_applied_timestamp_seconds",
		Help: "When the policy in force was applied, in seconds since the Unix epoch (0 until a reload).",
	})

	var registered []prometheus.Collector
	for _, c := range []struct {
		name string
		c    prometheus.Collector
	}{
		{"tokengate_auth_decisions_total", decisions},
		{"tokengate_auth_verification_seconds", seconds},
		{"tokengate_policy_reloads_total", reloads},
		{"tokengate_policy_applied_timestamp_seconds", applied},
	} {
		if err := reg.Register(c.c); err != nil {
			for _, r := range registered {
				reg.Unregister(r)
			}
			return nil, fmt.Errorf("metrics: registering %s: %w", c.name, err)
		}
		registered = append(registered, c.c)
	}
	return &Metrics{
		decisions:       decisions,
		allowedSeconds:  seconds.WithLabelValues(ResultAllowed),
		deniedSeconds:   seconds.WithLabelValues(ResultDenied),
		reloadsApplied:  reloads.WithLabelValues(ReloadApplied),
		reloadsRejected: reloads.WithLabelValues(ReloadRejected),
		policyApplied:   applied,
		methods:         map[string]struct{}{},
		warned:          map[int]bool{},
		maxMethods:      maxMethods,
	}, nil
}

// series names one counter of tokengate_auth_decisions_total.
type series struct {
	method  string
	allowed bool
	reason  interceptors.Reason
}

// maxMethods bounds the method label's values. The Authenticator bounds
// them once it knows the server's methods (KnowMethods): every other name
// is then UnregisteredMethod. A server that never tells it would see a
// value per name a caller invents; past the bound, a method not seen
// before is counted as UnregisteredMethod, so the label set stays bounded
// whatever callers send. Denials may bring in only half as many names, so
// that callers without a valid token cannot crowd out the methods first
// called with one. A method seen before keeps its own series, for every
// result and reason.
const maxMethods = 1024 // a field's default, so that tests can lower it

// counter returns the counter of a decision's series, or nil when the
// series cannot be made.
func (m *Metrics) counter(key series) prometheus.Counter {
	if cached := m.counters.Load(); cached != nil {
		if c, ok := (*cached)[key]; ok {
			return c
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var old map[series]prometheus.Counter
	if p := m.counters.Load(); p != nil {
		old = *p
	}
	if _, seen := m.methods[key.method]; !seen && key.method != interceptors.UnregisteredMethod {
		// Denials may name only half as many: callers without a valid
		// token cannot crowd out the methods first called with one.
		limit := m.maxMethods
		if !key.allowed {
			limit /= 2
		}
		if len(m.methods) >= limit {
			if !m.warned[limit] {
				m.warned[limit] = true
				slog.Warn("tokengate metrics: more method names than the label may hold; new ones are counted as "+interceptors.UnregisteredMethod+" (call Authenticator.KnowMethods)",
					"limit", limit, "allowed", key.allowed)
			}
			key.method = interceptors.UnregisteredMethod
		}
	}
	if c, ok := old[key]; ok {
		return c
	}
	result := ResultAllowed
	if !key.allowed {
		result = ResultDenied
	}
	c, err := m.decisions.GetMetricWithLabelValues(key.method, result, string(key.reason))
	if err != nil {
		return nil
	}
	next := make(map[series]prometheus.Counter, len(old)+1)
	maps.Copy(next, old)
	next[key] = c
	m.counters.Store(&next)
	if key.method != interceptors.UnregisteredMethod {
		m.methods[key.method] = struct{}{}
	}
	return c
}

// PolicyHook returns the PolicyHook that counts policy reloads and records
// when the one in force was applied. Install it with
// interceptors.WithPolicyHook.
func (m *Metrics) PolicyHook() interceptors.PolicyHook {
	return func(e interceptors.PolicyEvent) {
		if !e.Applied {
			m.reloadsRejected.Inc()
			return
		}
		m.reloadsApplied.Inc()
		m.policyApplied.Set(float64(e.Time.UnixNano()) / 1e9)
	}
}

// Hook returns the DecisionHook that records each decision. Install it with
// interceptors.WithDecisionHook.
func (m *Metrics) Hook() interceptors.DecisionHook {
	return func(_ context.Context, d interceptors.Decision) {
		seconds := m.allowedSeconds
		if !d.Allowed {
			seconds = m.deniedSeconds
		}
		// The Authenticator hands hooks only valid, bounded method names
		// (interceptors.UnregisteredMethod stands in for the rest); a
		// series that still cannot be made is dropped, never a panic on
		// the call's goroutine.
		if c := m.counter(series{d.FullMethod, d.Allowed, d.Reason}); c != nil {
			c.Inc()
		}
		// A stream ended at its token's expiry or by a new policy was not
		// verified then, nor was a method name refused for its shape; their
		// zero durations would only drag the histogram down (and any caller
		// can send malformed names).
		if d.StreamEnded || d.Reason == interceptors.ReasonMalformedMethod {
			return
		}
		seconds.Observe(d.Duration.Seconds())
	}
}
