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

// ReadFile reads the value of a _FILE variable (the convention of Docker's
// official images): the whole content of path with one trailing newline
// ("\n" or "\r\n") removed. It refuses a directory or any file that is not
// regular, and a file over MaxFileSize. Its errors never hold the content,
// and name the path only once it is known to name something: a path that
// names nothing may be a secret pasted where its file's path belongs.
func ReadFile(path string) (string, error) {
	// Stat first: opening a named pipe would block until a writer came.
	info, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // without the path
		}
		return "", fmt.Errorf("cannot use the file it names: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() { // swapped for something else meanwhile
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return "", fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
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
