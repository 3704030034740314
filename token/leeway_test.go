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
