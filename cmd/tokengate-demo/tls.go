package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tokengate/tokengate/internal/settings"
)

// certFiles serves a certificate and key from files and picks up a renewed
// pair without a restart: a handshake checks, at most once a second,
// whether either file changed, and loads the pair again if so. A pair that
// cannot be loaded (half written, mismatched) is logged by the handshake
// error and the previous one keeps serving.
type certFiles struct {
	certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // modification times and sizes of the pair loaded
	checkedAt time.Time
}

// certCheckInterval bounds how often handshakes look at the files.
const certCheckInterval = time.Second

func loadCertFiles(certFile, keyFile string) (*certFiles, error) {
	c := &certFiles{certFile: certFile, keyFile: keyFile}
	if _, err := c.get(time.Now()); err != nil {
		return nil, err
	}
	return c, nil
}

// config returns a TLS configuration serving c's certificate, or nil when c
// is nil (plaintext).
func (c *certFiles) config() *tls.Config {
	if c == nil {
		return nil
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.get(time.Now()) },
	}
}

func (c *certFiles) get(now time.Time) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && now.Sub(c.checkedAt) < certCheckInterval {
		return c.cert, nil
	}
	c.checkedAt = now
	stamp, err := fileStamp(c.certFile, c.keyFile)
	if err == nil && stamp == c.stamp {
		return c.cert, nil
	}
	pair, err := loadPair(c.certFile, c.keyFile)
	if err != nil {
		if c.cert != nil {
			return c.cert, nil // a renewal under way: keep serving the last good pair
		}
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &pair, stamp
	return c.cert, nil
}

// maxPEMSize bounds a certificate (chain) or key file.
const maxPEMSize = 1 << 20

// loadPair is tls.LoadX509KeyPair reading only regular files of at most
// maxPEMSize: the handshake that reloads the pair holds the lock every
// handshake takes, so a path swapped for a named pipe or /dev/zero must not
// block it or feed it for good.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := settings.ReadRegular(certFile, maxPEMSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err := settings.ReadRegular(keyFile, maxPEMSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// fileStamp identifies the current content of files cheaply.
func fileStamp(files ...string) (string, error) {
	var s string
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%s:%d:%d;", f, info.ModTime().UnixNano(), info.Size())
	}
	return s, nil
}
