package token

import (
	"errors"
	"fmt"
	"time"
)

// MaxLeeway is the most clock skew a Verifier may be told to tolerate.
// Leeway stretches every token's life by that much; beyond a few minutes it
// stops being skew and becomes a longer expiry that nobody asked for.
const MaxLeeway = 5 * time.Minute

// ErrLeeway reports a leeway outside [0, MaxLeeway].
var ErrLeeway = errors.New("token: leeway out of range")

// CheckLeeway is the one place where the bounds on leeway are decided:
// configuration readers and constructors call it so that they cannot
// disagree. The error wraps ErrLeeway.
func CheckLeeway(d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("%w: negative (want 0 to %v)", ErrLeeway, MaxLeeway)
	case d > MaxLeeway:
		return fmt.Errorf("%w: more than the maximum, %v", ErrLeeway, MaxLeeway)
	}
	return nil
}
