// Package kubelet stands in for the one part of a kubelet the mesh test
// needs: projecting a Secret's or a ConfigMap's data into a directory the
// way a kubelet's secret and configMap volumes do, so that istiod and
// istio-agent read their files exactly as they would in a pod.
//
// The layout is the kubelet's atomic writer's: the data lives in a
// timestamped directory, "..data" is a symlink to it, and each key is a
// symlink "key -> ..data/key". An update writes a new timestamped
// directory, points "..data_tmp" at it and renames that over "..data", so a
// reader sees either the old set of files or the new one, never a mix; the
// file watchers of Istio (fsnotify on the directory) are built for this.
package kubelet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const dataLink = "..data"

// Write projects data into dir atomically (see the package comment) and
// reports whether anything changed. Keys must be plain file names.
func Write(dir string, data map[string][]byte) (bool, error) {
	for k := range data {
		if k == "" || k != filepath.Base(k) || strings.HasPrefix(k, "..") {
			return false, fmt.Errorf("key %q is not a plain file name", k)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, _ := Read(dir)
	if equalData(old, data) {
		return false, nil
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(ts, k), v, 0o644); err != nil {
			_ = os.RemoveAll(ts)
			return false, err
		}
	}
	prev, _ := os.Readlink(filepath.Join(dir, dataLink))
	tmp := filepath.Join(dir, dataLink+"_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		_ = os.RemoveAll(ts)
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		_ = os.RemoveAll(ts)
		return false, err
	}
	// User-visible names: created once, they follow ..data from then on;
	// names of keys that went away are removed, as the kubelet does.
	for k := range data {
		link := filepath.Join(dir, k)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join(dataLink, k), link); err != nil {
				return true, err
			}
		}
	}
	for k := range old {
		if _, ok := data[k]; !ok {
			_ = os.Remove(filepath.Join(dir, k))
		}
	}
	if prev != "" && prev != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, prev))
	}
	return true, nil
}

// Read returns the files currently projected into dir.
func Read(dir string) (map[string][]byte, error) {
	target := filepath.Join(dir, dataLink)
	entries, err := os.ReadDir(target)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(target, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}

func equalData(a, b map[string][]byte) bool {
	if a == nil || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// Source names an object whose data a volume projects.
type Source struct {
	Kind      string // "Secret" or "ConfigMap"
	Namespace string
	Name      string
	Dir       string
}

func (s Source) String() string { return s.Kind + " " + s.Namespace + "/" + s.Name + " -> " + s.Dir }

// Syncer keeps volumes in step with their objects, polling the API server
// (a kubelet syncs on its own period; polling keeps the test's latency
// figures about vaultca and istiod rather than about this stand-in).
type Syncer struct {
	client  kubernetes.Interface
	sources []Source
	period  time.Duration

	mu      sync.Mutex
	updates map[string][]time.Time // Source.String() -> write times
	lastErr map[string]error
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewSyncer makes a syncer; Start runs it.
func NewSyncer(client kubernetes.Interface, period time.Duration, sources ...Source) *Syncer {
	return &Syncer{client: client, sources: sources, period: period,
		updates: map[string][]time.Time{}, lastErr: map[string]error{}}
}

// SyncOnce projects every source that exists now; a missing object leaves
// its volume as it is (the kubelet keeps a pod's volume until the object
// comes back). It returns the sources whose objects are missing.
func (s *Syncer) SyncOnce(ctx context.Context) (missing []Source, err error) {
	for _, src := range s.sources {
		data, ok, gerr := s.get(ctx, src)
		if gerr != nil {
			s.note(src, gerr)
			return nil, gerr
		}
		if !ok {
			missing = append(missing, src)
			continue
		}
		changed, werr := Write(src.Dir, data)
		if werr != nil {
			s.note(src, werr)
			return nil, fmt.Errorf("%s: %v", src, werr)
		}
		if changed {
			s.mu.Lock()
			s.updates[src.String()] = append(s.updates[src.String()], time.Now())
			s.mu.Unlock()
		}
	}
	return missing, nil
}

func (s *Syncer) get(ctx context.Context, src Source) (map[string][]byte, bool, error) {
	switch src.Kind {
	case "Secret":
		sec, err := s.client.CoreV1().Secrets(src.Namespace).Get(ctx, src.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		return sec.Data, true, nil
	case "ConfigMap":
		cm, err := s.client.CoreV1().ConfigMaps(src.Namespace).Get(ctx, src.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		out := map[string][]byte{}
		for k, v := range cm.Data {
			out[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			out[k] = v
		}
		return out, true, nil
	}
	return nil, false, fmt.Errorf("unknown kind %q", src.Kind)
}

func (s *Syncer) note(src Source, err error) {
	s.mu.Lock()
	s.lastErr[src.String()] = err
	s.mu.Unlock()
}

// Start syncs every period until Stop.
func (s *Syncer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.period)
		defer t.Stop()
		for {
			_, _ = s.SyncOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends Start's loop and waits for it.
func (s *Syncer) Stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
}

// Updates returns when each source's volume was rewritten.
func (s *Syncer) Updates() map[string][]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Time{}
	keys := make([]string, 0, len(s.updates))
	for k := range s.updates {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = append([]time.Time(nil), s.updates[k]...)
	}
	return out
}

// Errors returns the last error seen per source.
func (s *Syncer) Errors() map[string]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]error{}
	for k, v := range s.lastErr {
		out[k] = v
	}
	return out
}
