package settings_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokengate/tokengate/internal/settings"
)

// Load reads what the environment has and looks in .env for the rest, as
// Brevia does. In main packages pass os.Environ() and ".env".
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "settings-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	dotEnv := filepath.Join(dir, ".env")
	content := "tokens_secret=Pa$5word #kept as written, but for this comment\n" +
		"TOKENS_USERS=${ADMIN},bob\n" +
		"STATUS_TOKEN=the environment wins\n"
	if err := os.WriteFile(dotEnv, []byte(content), 0o600); err != nil {
		panic(err)
	}
	environ := []string{"ADMIN=ana", "status_token=monitor"}

	values, err := settings.Load(environ, dotEnv, "TOKENS_SECRET", "TOKENS_USERS", "STATUS_TOKEN", "TOKENS_LEEWAY")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"TOKENS_SECRET", "TOKENS_USERS", "STATUS_TOKEN", "TOKENS_LEEWAY"} {
		v, ok := values[name]
		fmt.Printf("%s=%q %v\n", name, v, ok)
	}
	// Output:
	// TOKENS_SECRET="Pa$5word" true
	// TOKENS_USERS="ana,bob" true
	// STATUS_TOKEN="monitor" true
	// TOKENS_LEEWAY="" false
}
