package interceptors

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tokengate/tokengate/internal/settings"
)

// FileWatcher keeps an Authenticator's policy in step with the files it is
// read from: secrets and user lists mounted as Kubernetes Secrets (which
// swap a "..data" symlink), Docker secrets, files written by Vault agent
// templates or by an editor that writes a new file and renames it. It is
// grpc-go's authz.NewFileWatcher for tokengate: the same Authenticator, fed
// by Update from a reloading source.
//
// On a change it calls load and hands the result to Authenticator.Update,
// so a reload is all or nothing: a policy that cannot be read (a file
// missing or unreadable for a moment) or that Update refuses leaves the old
// one serving, and is logged and reported to the policy hooks: when it
// first fails, and again every minute while it fails the same way.
type FileWatcher struct {
	a     *Authenticator
	load  func() (Config, error)
	files []string

	fs       *fsnotify.Watcher
	resolved map[string]string // the directory each file last resolved to (under mu once running)
	poll     time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex // one reload at a time
	// failed is the last reload error, reported when it changes and then
	// again every repeat (failureRepeat) while it lasts; failedAt when it
	// last was.
	failed   string
	failedAt time.Time
	repeat   time.Duration
}

// failureRepeat is how often a reload that keeps failing the same way is
// reported again: a policy file deleted by mistake leaves the old policy
// serving (a retired previous secret still accepted), which must not go
// quiet after one log line.
const failureRepeat = time.Minute

// defaultPollInterval is how often a FileWatcher reads its files even
// without an event, for file systems that send none (some network and
// FUSE mounts).
const defaultPollInterval = 5 * time.Second

// debounce groups the events of one change (a Kubernetes update is several
// creates, renames and removes) into one reload.
const debounce = 50 * time.Millisecond

// NewFileWatcher watches files and, whenever one of them changes, applies
// the Config that load returns with a.Update. load is typically
// ConfigFromEnv, which reads the _FILE variables; files are the paths it
// reads (see PolicyFiles). With no files it reads the policy only when
// Reload is called. A change takes effect within about 150ms on
// file systems that report events, and within poll otherwise (0 means
// 5s). Close stops it.
func NewFileWatcher(a *Authenticator, load func() (Config, error), files []string, poll time.Duration) (*FileWatcher, error) {
	if poll <= 0 {
		poll = defaultPollInterval
	}
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("interceptors: watching policy files: %w", err)
	}
	w := &FileWatcher{
		a: a, load: load, files: files, fs: fs, resolved: map[string]string{}, poll: poll,
		stop: make(chan struct{}), done: make(chan struct{}), repeat: failureRepeat,
	}
	if err := w.watchDirs(); err != nil {
		fs.Close()
		return nil, err
	}
	go w.run()
	return w, nil
}

// watchDirs watches the directory of each file, where a symlink swap or a
// rename shows up (a watch on the file itself would follow the old inode),
// and the directory the file resolves to, when that is elsewhere. A
// directory that was removed (or moved) lost its watch with it: one made
// again at its path is watched again from the next reload or poll. A
// directory no file resolves to any more (the target of a symlink since
// swapped away, and not removed) is no longer watched, so that watches do
// not pile up, one per rotation, against the system's inotify limit.
func (w *FileWatcher) watchDirs() error {
	watched := map[string]bool{}
	for _, d := range w.fs.WatchList() {
		watched[d] = true
	}
	needed := map[string]bool{}
	for _, f := range w.files {
		dirs := []string{filepath.Dir(f)}
		// A file that does not resolve now (deleted, to be written again
		// where it was) keeps the directory it last resolved to.
		if real, err := filepath.EvalSymlinks(f); err == nil {
			w.resolved[f] = filepath.Dir(real)
		}
		if d, ok := w.resolved[f]; ok {
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			needed[d] = true
			if watched[d] {
				continue
			}
			if err := w.fs.Add(d); err != nil {
				if len(watched) == 0 && d == filepath.Dir(f) {
					return fmt.Errorf("interceptors: watching %s: %w", d, err)
				}
				continue // the poll still covers it
			}
			watched[d] = true
		}
	}
	for d := range watched {
		if !needed[d] {
			_ = w.fs.Remove(d) // an error means the watch is gone already
		}
	}
	return nil
}

func (w *FileWatcher) run() {
	defer close(w.done)
	var poll <-chan time.Time
	if len(w.files) > 0 { // with no files, only Reload reads the policy
		tick := time.NewTicker(w.poll)
		defer tick.Stop()
		poll = tick.C
	}
	var settle <-chan time.Time
	for {
		select {
		case <-w.stop:
			return
		case _, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if settle == nil {
				settle = time.After(debounce)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.a.logger.Warn("tokengate: watching policy files", "err", err)
		case <-settle:
			settle = nil
			_ = w.Reload()
		case <-poll:
			_ = w.Reload()
		}
	}
}

// Reload reads the policy now and applies it, as a change of file would:
// for a SIGHUP handler, say. It returns what Update returned, or why the
// policy could not be read; either way the old policy keeps serving.
func (w *FileWatcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A swapped symlink may resolve elsewhere now, and a directory made
	// again needs a new watch.
	_ = w.watchDirs()
	cfg, err := w.settledLoad()
	if err == nil {
		err = w.a.update(cfg)
	}
	if err != nil {
		// A file gone for a while fails every poll the same way: say it
		// when it changes, and then once every failureRepeat.
		if msg := err.Error(); msg != w.failed || time.Since(w.failedAt) >= w.repeat {
			w.failed, w.failedAt = msg, time.Now()
			w.a.policyRefused(err)
		}
		return err
	}
	w.failed = ""
	return nil
}

// errStillChanging refuses a policy whose files kept changing between reads.
var errStillChanging = errors.New("interceptors: policy files still changing; the next change will be read")

// settledLoad reads the policy until two reads a debounce apart agree, so
// that a file caught half-written (a users list cut after "bob" of
// "bobby") is not applied.
func (w *FileWatcher) settledLoad() (Config, error) {
	prev, err := w.load()
	for range 3 {
		if err != nil {
			return Config{}, err
		}
		time.Sleep(debounce)
		var cfg Config
		if cfg, err = w.load(); err == nil && reflect.DeepEqual(cfg, prev) {
			return cfg, nil
		}
		prev = cfg
	}
	if err != nil {
		return Config{}, err
	}
	return Config{}, errStillChanging
}

// Close stops watching. The Authenticator keeps the policy it has.
func (w *FileWatcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.stop)
		err = w.fs.Close()
		<-w.done
	})
	return err
}

// ErrPolicyFile wraps every error reading a policy file.
var ErrPolicyFile = errors.New("interceptors: policy file")

// readPolicyFile reads a secret, status token or user list from path, as
// the _FILE variables are read (see settings.ReadFile).
func readPolicyFile(path string) (string, error) {
	s, err := settings.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPolicyFile, err)
	}
	return s, nil
}
