//go:build unix

package settings

import "syscall"

// openNonblock opens a named pipe without waiting for a writer (a regular
// file is read the same either way).
const openNonblock = syscall.O_NONBLOCK
