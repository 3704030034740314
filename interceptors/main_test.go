package interceptors_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: servers,
// streams ended at expiry and their handlers must all be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
