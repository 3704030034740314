package interceptors_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/interceptors"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestConfigFromLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    interceptors.Config
		wantErr string
	}{
		{"empty environment turns auth off", map[string]string{}, interceptors.Config{}, ""},
		{"all variables", map[string]string{
			"TOKENS_SECRET": "s1", "TOKENS_SECRET_PREVIOUS": "s0", "TOKENS_USERS": "ana,bob",
			"STATUS_TOKEN": "st", "TOKENS_LEEWAY": "30", "TOKENS_CACHE_SIZE": "-1",
		}, interceptors.Config{Secret: "s1", PreviousSecret: "s0", Users: []string{"ana", "bob"},
			StatusToken: "st", Leeway: 30 * time.Second, CacheSize: -1}, ""},
		{"users trimmed, empty entries dropped, case kept", map[string]string{"TOKENS_USERS": " ana , ,Bob,"},
			interceptors.Config{Users: []string{"ana", "Bob"}}, ""},
		{"users only commas", map[string]string{"TOKENS_USERS": " , ,"}, interceptors.Config{}, ""},
		{"leeway as Go duration", map[string]string{"TOKENS_LEEWAY": "1m30s"}, interceptors.Config{Leeway: 90 * time.Second}, ""},
		{"bad leeway", map[string]string{"TOKENS_LEEWAY": "soon"}, interceptors.Config{}, "TOKENS_LEEWAY"},
		{"negative leeway", map[string]string{"TOKENS_LEEWAY": "-5"}, interceptors.Config{}, "TOKENS_LEEWAY"},
		{"bad cache size", map[string]string{"TOKENS_CACHE_SIZE": "lots"}, interceptors.Config{}, "TOKENS_CACHE_SIZE"},
		{"cache size over the cap", map[string]string{"TOKENS_CACHE_SIZE": "1048577"}, interceptors.Config{}, "up to 1048576"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := interceptors.ConfigFromLookup(lookupFrom(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("TOKENS_SECRET", "from-env")
	t.Setenv("TOKENS_USERS", "ana")
	cfg, err := interceptors.ConfigFromEnv()
	if err != nil || cfg.Secret != "from-env" || !reflect.DeepEqual(cfg.Users, []string{"ana"}) {
		t.Fatalf("ConfigFromEnv = %+v, %v", cfg, err)
	}
}
