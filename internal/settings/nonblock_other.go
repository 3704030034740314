//go:build !unix

package settings

// openNonblock is 0 where named pipes do not block an open as on Unix.
const openNonblock = 0
