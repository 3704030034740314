//go:build unix

package settings_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/settings"
)

// A _FILE variable naming something that is not a regular file is refused
// at once: a directory, and a named pipe, whose opening would otherwise
// block until a writer came.
func TestReadFileRefusesNonRegularFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	for _, path := range []string{dir, fifo} {
		done := make(chan error, 1)
		go func() { _, err := settings.ReadFile(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: err = %v", path, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: ReadFile blocked", path)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, settings.MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := settings.ReadFile(big); err == nil {
		t.Error("a file over MaxFileSize was read")
	}
}
