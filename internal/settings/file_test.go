//go:build unix

package settings_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// notBlocked runs read and fails the test if it has not returned within 2
// s; a read left blocked on a named pipe is freed by opening for writing
// each of fifos(), which lists every pipe it may be blocked on.
func notBlocked(t *testing.T, what string, fifos func() []string, read func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		for _, fifo := range fifos() {
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
		<-done
		t.Fatalf("%s blocked on a named pipe", what)
		return nil
	}
}

// A .env that is not a regular file is refused, never read: a named pipe
// with no writer would block Load (at startup, and in every later reload of
// a server's policy) and /dev/zero would feed it without end. So is one
// over MaxDotEnvSize.
func TestLoadRefusesDotEnvNotARegularFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", settings.MaxDotEnvSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "not a regular file", zero: "not a regular file", big: "larger than"} {
		err := notBlocked(t, "Load of "+path, func() []string { return []string{fifo} }, func() error {
			_, err := settings.Load(nil, path, "TOKENS_SECRET")
			return err
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load with .env %s: %v, want an error saying %q", path, err, want)
		}
	}
}

// ReadFile opens without blocking and checks what it opened, so a named
// pipe renamed over the path at any moment is refused, never waited on. A
// check before the open alone (which ReadFile once made) would leave a
// moment for the swap; this loop found it within a second.
func TestReadFileNeverBlocksOnASwappedPipe(t *testing.T) {
	t.Parallel()
	dir, keep := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var fifos []string // every pipe swapped in, by a second name, to free a blocked open
	stop, swapper := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(swapper)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(dir, "tmp")
			if i%2 == 0 {
				os.WriteFile(tmp, []byte("s"), 0o600)
			} else if syscall.Mkfifo(tmp, 0o600) == nil {
				name := filepath.Join(keep, strconv.Itoa(i))
				if os.Link(tmp, name) == nil {
					mu.Lock()
					fifos = append(fifos, name)
					mu.Unlock()
				}
			}
			os.Rename(tmp, path)
		}
	}()
	defer func() { close(stop); <-swapper }()
	_ = notBlocked(t, "ReadFile", func() []string {
		close(stop)
		<-swapper
		stop = make(chan struct{}) // closed again by the deferred call
		mu.Lock()
		defer mu.Unlock()
		return fifos
	}, func() error {
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			settings.ReadFile(path)
		}
		return nil
	})
}

// What is not a regular file is refused before it is opened: opening a
// device can have effects. Here the effect is visible: opening a named
// pipe to read lets a writer waiting on it go on.
func TestReadRegularDoesNotOpenWhatItRefuses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0) // blocks until a reader opens it
		if err != nil {
			t.Error(err)
		}
		opened <- w
	}()
	if _, err := settings.ReadRegular(path, 1); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadRegular(a named pipe) = %v, want not a regular file", err)
	}
	select {
	case w := <-opened:
		w.Close()
		t.Fatal("ReadRegular opened the named pipe it refused")
	case <-time.After(100 * time.Millisecond):
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // lets the writer go
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if w := <-opened; w != nil {
		w.Close()
	}
}
