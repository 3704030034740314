package settings

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxFileSize bounds a file named by a _FILE variable: a secret, a status
// token or a user list is far smaller, and a larger file is a mistake.
const MaxFileSize = 64 << 10

// MaxDotEnvSize bounds a .env file, which may hold many other settings.
const MaxDotEnvSize = 1 << 20

// ReadFile reads the value of a _FILE variable (the convention of Docker's
// official images): the whole content of path with one trailing newline
// ("\n" or "\r\n") removed. It refuses what ReadRegular refuses, with
// MaxFileSize. Its errors never hold the content, and name the path only
// once it is known to name something: a path that names nothing may be a
// secret pasted where its file's path belongs.
func ReadFile(path string) (string, error) {
	b, err := ReadRegular(path, MaxFileSize)
	if err != nil {
		return "", err
	}
	s := string(b)
	if len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
		if len(s) > 0 && s[len(s)-1] == '\r' {
			s = s[:len(s)-1]
		}
	}
	return s, nil
}

// ReadRegular reads the whole of path, which must be a regular file of at
// most limit bytes: never a directory, a named pipe or a device, which
// could block the reader for good (a pipe with no writer) or feed it
// without end (/dev/zero). What the path names is checked before it is
// opened, so that no device is opened (opening some has effects: a
// terminal, a tape, a watchdog), and again once open, without blocking, so
// that nothing swapped in between the two can block the reader. Its errors
// name the path only once it is known to name something (see ReadFile);
// one that names nothing matches fs.ErrNotExist.
func ReadRegular(path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, withoutPath(err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, withoutPath(err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// withoutPath is the error of a path that may name nothing, without the
// path: it may be a secret pasted where its file's path belongs.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot use the file it names: %w", err)
}
