//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A certificate or key path swapped for a named pipe or /dev/zero neither
// blocks nor feeds the handshake that looks at it (holding the lock every
// handshake takes): the pair is refused at once and the last good one keeps
// serving.
func TestCertFilesNotRegularKeepServing(t *testing.T) {
	t.Parallel()
	for _, swapped := range []string{"cert", "key"} {
		for _, kind := range []string{"named pipe", "/dev/zero"} {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			selfSigned(t, certFile, keyFile, "one")
			c, err := loadCertFiles(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			good := c.cert
			path := map[string]string{"cert": certFile, "key": keyFile}[swapped]
			tmp := filepath.Join(dir, "tmp")
			if kind == "named pipe" {
				err = syscall.Mkfifo(tmp, 0o600)
			} else {
				err = os.Symlink("/dev/zero", tmp)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				cert, err := c.get(time.Now().Add(2 * certCheckInterval)) // time to look again
				if err == nil && cert != good {
					t.Errorf("%s a %s: another pair is served", swapped, kind)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s a %s: %v, want the last good pair", swapped, kind, err)
				}
			case <-time.After(5 * time.Second):
				if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				<-done
				t.Fatalf("%s a %s: the handshake's certificate lookup blocked", swapped, kind)
			}
		}
	}
}
