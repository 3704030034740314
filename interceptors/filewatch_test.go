package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/tokengate/tokengate/interceptors"
	"github.com/tokengate/tokengate/token"
)

// policyDir is a directory of policy files laid out as Kubernetes mounts a
// Secret: each file a symlink through "..data" to a timestamped directory,
// updated by making a new directory and swapping "..data" to it.
type policyDir struct {
	t    *testing.T
	root string
	gen  int
}

func newPolicyDir(t *testing.T, files map[string]string) *policyDir {
	d := &policyDir{t: t, root: t.TempDir()}
	d.swap(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(d.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d *policyDir) path(name string) string { return filepath.Join(d.root, name) }

// swap writes files into a new timestamped directory and points "..data"
// at it with an atomic rename, as the kubelet does, then removes the old one.
func (d *policyDir) swap(files map[string]string) {
	t := d.t
	d.gen++
	dir := filepath.Join(d.root, "..2026_12_02_00_00_0"+string(rune('0'+d.gen)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(d.root, "..data"))
	tmp := filepath.Join(d.root, "..data_tmp")
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.root, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(d.root, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// loadFrom reads a secret and a user list from files, as ConfigFromEnv
// reads TOKENS_SECRET_FILE and TOKENS_USERS_FILE.
func loadFrom(secretFile, usersFile string) func() (interceptors.Config, error) {
	return func() (interceptors.Config, error) {
		return interceptors.ConfigFromEnviron([]string{
			"TOKENS_SECRET_FILE=" + secretFile,
			"TOKENS_USERS_FILE=" + usersFile,
		}, "")
	}
}

// allows reports whether a lets a call with a token for user signed with
// key into a method.
func allows(a *interceptors.Authenticator, key, user string) error {
	tok, err := token.Sign([]byte(key), token.Claims{User: user, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		return err
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
	_, err = a.Authenticate(ctx, "/x.Y/Z")
	return err
}

// eventually waits up to a second for ok, the time the watcher promises.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 1s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func watch(t *testing.T, a *interceptors.Authenticator, load func() (interceptors.Config, error), files ...string) *interceptors.FileWatcher {
	t.Helper()
	w, err := interceptors.NewFileWatcher(a, load, files, time.Hour) // events only: no poll to hide a miss
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// watchedPolicy writes a secret file and a users file naming ana in dir,
// and returns them with an Authenticator that serves them under a watcher,
// and the policy events it reports.
func watchedPolicy(t *testing.T, dir string) (secretFile, usersFile string, a *interceptors.Authenticator, w *interceptors.FileWatcher, ev *events) {
	t.Helper()
	secretFile, usersFile = filepath.Join(dir, "secret"), filepath.Join(dir, "users")
	write(t, secretFile, secret)
	write(t, usersFile, "ana")
	ev = &events{}
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}}, quiet(), interceptors.WithPolicyHook(ev.hook))
	if err != nil {
		t.Fatal(err)
	}
	return secretFile, usersFile, a, watch(t, a, loadFrom(secretFile, usersFile), secretFile, usersFile), ev
}

func TestFileWatcherFollowsKubernetesSecretSwap(t *testing.T) {
	t.Parallel()
	dir := newPolicyDir(t, map[string]string{"secret": secret + "\n", "users": "ana,bob\n"})
	load := loadFrom(dir.path("secret"), dir.path("users"))
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	a, err := interceptors.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	watch(t, a, load, dir.path("secret"), dir.path("users"))
	if err := allows(a, secret, "bob"); err != nil {
		t.Fatalf("before the swap: %v", err)
	}

	dir.swap(map[string]string{"secret": newSecret + "\n", "users": "ana\n"})
	eventually(t, "new secret accepted", func() bool { return allows(a, newSecret, "ana") == nil })
	if err := allows(a, secret, "ana"); err == nil {
		t.Error("old secret still accepted after the swap")
	}
	if err := allows(a, newSecret, "bob"); err == nil {
		t.Error("removed user still accepted after the swap")
	}
}

// Editors and many tools write a new file and rename it over the old one.
func TestFileWatcherFollowsRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile, usersFile := filepath.Join(dir, "secret"), filepath.Join(dir, "users")
	write(t, secretFile, secret)
	write(t, usersFile, "ana")
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	watch(t, a, loadFrom(secretFile, usersFile), secretFile, usersFile)

	tmp := filepath.Join(dir, ".secret.swp")
	write(t, tmp, newSecret+"\n")
	if err := os.Rename(tmp, secretFile); err != nil {
		t.Fatal(err)
	}
	eventually(t, "renamed secret applied", func() bool { return allows(a, newSecret, "ana") == nil })

	// And a plain write in place.
	write(t, usersFile, "ana\nbob\n")
	eventually(t, "edited users applied", func() bool { return allows(a, newSecret, "bob") == nil })
}

// A watcher drops the watch on a directory its files no longer resolve
// to: a tool that points the files' symlinks at a new directory on every
// rotation and leaves the old ones would otherwise use up the system's
// inotify watches, one per rotation, until no reload is seen at all.
func TestFileWatcherDropsWatchesOfSwappedAwayDirs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	secretFile, usersFile := filepath.Join(root, "secret"), filepath.Join(root, "users")
	point := func(dir, key string) {
		t.Helper()
		write(t, filepath.Join(dir, "secret"), key)
		write(t, filepath.Join(dir, "users"), "ana")
		for _, name := range []string{"secret", "users"} {
			tmp := filepath.Join(root, "."+name+".tmp")
			if err := os.Symlink(filepath.Join(dir, name), tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := t.TempDir()
	point(first, secret)
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, a, loadFrom(secretFile, usersFile), secretFile, usersFile)
	want := func(dirs ...string) {
		t.Helper()
		got := interceptors.WatchedDirs(w)
		slices.Sort(got)
		slices.Sort(dirs)
		if !slices.Equal(got, dirs) {
			t.Errorf("watched %q, want %q", got, dirs)
		}
	}
	want(root, first)
	for i, key := range []string{newSecret, secret, newSecret} {
		next := t.TempDir() // the one before stays where it was
		point(next, key)
		eventually(t, fmt.Sprintf("rotation %d applied", i+1), func() bool { return allows(a, key, "ana") == nil })
		if err := w.Reload(); err != nil { // the watches are settled once Reload returns
			t.Fatal(err)
		}
		want(root, next)
	}
}

// A file deleted and written again in the directory its symlink points to
// is seen at once: the watch on that directory stays while the file does
// not resolve, instead of waiting for the poll.
func TestFileWatcherKeepsWatchingWhileAFileIsGone(t *testing.T) {
	t.Parallel()
	root, target := t.TempDir(), t.TempDir()
	secretFile, usersFile := filepath.Join(root, "secret"), filepath.Join(root, "users")
	write(t, filepath.Join(target, "secret"), secret)
	write(t, usersFile, "ana")
	if err := os.Symlink(filepath.Join(target, "secret"), secretFile); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	a, err := interceptors.New(interceptors.Config{Secret: secret, Users: []string{"ana"}}, quiet(), interceptors.WithPolicyHook(ev.hook))
	if err != nil {
		t.Fatal(err)
	}
	watch(t, a, loadFrom(secretFile, usersFile), secretFile, usersFile)
	if err := os.Remove(filepath.Join(target, "secret")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the missing file reported", func() bool {
		for _, e := range ev.list() {
			if !e.Applied {
				return true
			}
		}
		return false
	})
	write(t, filepath.Join(target, "secret"), newSecret)
	eventually(t, "the secret written again applied", func() bool { return allows(a, newSecret, "ana") == nil })
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A bad reload changes nothing: the old policy keeps serving, the refusal
// is reported once, and a good file afterwards is applied.
func TestFileWatcherBadReloadsKeepTheOldPolicy(t *testing.T) {
	t.Parallel()
	secretFile, usersFile, a, w, ev := watchedPolicy(t, t.TempDir())

	refusals := func() int {
		n := 0
		for _, e := range ev.list() {
			if !e.Applied {
				n++
			}
		}
		return n
	}
	for i, bad := range []struct {
		name string
		do   func()
		want error
	}{
		{"empty secret file", func() { write(t, secretFile, "") }, nil},
		{"users file naming nobody", func() { write(t, secretFile, secret); write(t, usersFile, " , \n") }, interceptors.ErrNoUsers},
		{"deleted users file", func() { os.Remove(usersFile) }, os.ErrNotExist},
		{"users file replaced by a directory", func() { os.Mkdir(usersFile, 0o755) }, interceptors.ErrPolicyFile},
		{"users file over the size limit", func() {
			os.Remove(usersFile)
			write(t, usersFile, strings.Repeat("ana,", interceptors.MaxPolicyFileSize))
		}, interceptors.ErrPolicyFile},
	} {
		bad.do()
		eventually(t, bad.name+": refusal reported", func() bool { return refusals() == i+1 })
		if err := w.Reload(); err == nil || (bad.want != nil && !errors.Is(err, bad.want)) {
			t.Errorf("%s: Reload = %v, want %v", bad.name, err, bad.want)
		}
		if err := allows(a, secret, "ana"); err != nil {
			t.Errorf("%s: the old policy stopped serving: %v", bad.name, err)
		}
	}
	if n := refusals(); n != 5 {
		t.Errorf("refusals reported = %d, want 5 (one per bad change, not one per attempt)", n)
	}
	os.Remove(usersFile)
	write(t, usersFile, "bob")
	eventually(t, "good file after bad ones applied", func() bool { return allows(a, secret, "bob") == nil })
}

// A policy directory removed and made again (rm -rf, or a volume mounted
// anew) took its watch with it: the next reload (a poll, or Reload) watches
// the new one, so later changes are applied on their events again, not
// only at the next poll.
func TestFileWatcherWatchesADirectoryMadeAgain(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "policy")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secretFile, usersFile, a, w, _ := watchedPolicy(t, dir)

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the removal's events and their reload pass
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, secretFile, newSecret)
	write(t, usersFile, "ana")
	if err := w.Reload(); err != nil { // as the poll would
		t.Fatalf("Reload: %v", err)
	}
	if err := allows(a, newSecret, "ana"); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
	write(t, usersFile, "ana\nbob\n")
	eventually(t, "a change in the directory made again applied on its event", func() bool { return allows(a, newSecret, "bob") == nil })
}

// A reload that keeps failing the same way (a policy file deleted, so a
// retired previous secret stays accepted) is reported again every
// failureRepeat, not once and then never.
func TestFileWatcherRepeatsALastingFailure(t *testing.T) {
	t.Parallel()
	_, usersFile, _, w, ev := watchedPolicy(t, t.TempDir())
	if err := os.Remove(usersFile); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refusal reported", func() bool { return len(ev.list()) == 1 })
	_ = w.Reload() // within failureRepeat: not again
	if n := len(ev.list()); n != 1 {
		t.Fatalf("%d refusals reported, want 1 within failureRepeat", n)
	}
	interceptors.SetFailureRepeat(w, 0)
	_ = w.Reload()
	_ = w.Reload()
	if n := len(ev.list()); n != 3 {
		t.Errorf("%d refusals reported, want 3: each failure once failureRepeat has passed", n)
	}
}

func TestReadPolicyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret", "s3cret"},
		{"s3cret\n\n", "s3cret\n"},
		{" s3cret \n", " s3cret "},
		{"", ""},
	} {
		p := filepath.Join(dir, "f")
		write(t, p, tc.content)
		got, err := interceptors.ReadPolicyFile(p)
		if err != nil || got != tc.want {
			t.Errorf("ReadPolicyFile(%q) = %q, %v; want %q", tc.content, got, err, tc.want)
		}
	}
	if _, err := interceptors.ReadPolicyFile(dir); !errors.Is(err, interceptors.ErrPolicyFile) {
		t.Errorf("directory: %v", err)
	}
}
