package token_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tokengate/tokengate/token"
)

func TestCheckLeeway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d      time.Duration
		wantOK bool
	}{
		{0, true},
		{time.Second, true},
		{token.MaxLeeway, true},
		{token.MaxLeeway + time.Nanosecond, false},
		{time.Hour, false},
		{math.MaxInt64, false},
		{-time.Nanosecond, false},
		{math.MinInt64, false},
	}
	for _, tc := range tests {
		err := token.CheckLeeway(tc.d)
		if (err == nil) != tc.wantOK || (err != nil && !errors.Is(err, token.ErrLeeway)) {
			t.Errorf("CheckLeeway(%v) = %v, want ok=%v or an ErrLeeway", tc.d, err, tc.wantOK)
		}
	}
}

// TestNewVerifierChecksLeeway: WithLeeway takes what CheckLeeway allows and
// NewVerifier refuses the rest, a negative leeway included.
func TestNewVerifierChecksLeeway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   []token.Option
		wantOK bool
	}{
		{"none", nil, true},
		{"zero", []token.Option{token.WithLeeway(0)}, true},
		{"the maximum", []token.Option{token.WithLeeway(token.MaxLeeway)}, true},
		{"negative", []token.Option{token.WithLeeway(-time.Hour)}, false},
		{"a nanosecond below zero", []token.Option{token.WithLeeway(-time.Nanosecond)}, false},
		{"over the maximum", []token.Option{token.WithLeeway(token.MaxLeeway + time.Nanosecond)}, false},
		{"the last one counts", []token.Option{token.WithLeeway(time.Hour), token.WithLeeway(time.Second)}, true},
	}
	for _, tc := range tests {
		v, err := token.NewVerifier([]byte("leeway-test-secret"), tc.opts...)
		if (err == nil) != tc.wantOK || (err != nil && !errors.Is(err, token.ErrLeeway)) || (err == nil) != (v != nil) {
			t.Errorf("%s: NewVerifier = %v, %v; want ok=%v or an ErrLeeway", tc.name, v, err, tc.wantOK)
		}
	}
}
