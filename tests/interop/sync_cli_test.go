package interop

// The vaultca operator command (VAULTCA_CLI_BIN) as the tests run it: one
// shot, or `vaultca sync` in its loop as a sidecar.

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"vaultca.dev/tests/interop/internal/pki"
)

// run runs the vaultca CLI with only PATH, HOME and extraEnv in its
// environment and returns its combined output.
func (f *syncIstiodFixture) run(extraEnv []string, args ...string) (string, error) {
	cmd := exec.Command(f.cli, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extraEnv...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// syncLoop is `vaultca sync` without --once, as a sidecar runs it.
type syncLoop struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	code    int
}

func (f *syncIstiodFixture) startSyncLoop(args []string, logPath string) (*syncLoop, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	l := &syncLoop{logPath: logPath, done: make(chan struct{}), code: -1}
	l.cmd = exec.Command(f.cli, args...)
	l.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	l.cmd.Stdout, l.cmd.Stderr = logf, logf
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := l.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		_ = l.cmd.Wait()
		l.code = l.cmd.ProcessState.ExitCode()
		logf.Close()
		close(l.done)
	}()
	return l, nil
}

func (l *syncLoop) output() string {
	b, _ := os.ReadFile(l.logPath)
	return string(b)
}

func (l *syncLoop) saw(s string) bool { return strings.Contains(l.output(), s) }

func (l *syncLoop) tail(n int) string { return readTail(l.logPath, n) }

// stop sends SIGTERM, as the kubelet stops a sidecar, and returns the exit
// code (-1 if it had to be killed).
func (l *syncLoop) stop() int {
	select {
	case <-l.done:
		return l.code
	default:
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		_ = l.cmd.Process.Kill()
		<-l.done
		return -1
	}
	return l.code
}

func chainIssuedBy(chain []*x509.Certificate, m *pki.Material) bool {
	return len(chain) > 0 && chain[0].CheckSignatureFrom(m.Signing.Cert) == nil
}

// relTo is how istiod names path in its log: as given in ROOT_CA_DIR
// (absolute here), or ./etc/cacerts by default.
func relTo(istiodDir, path string) string {
	if rel, err := filepath.Rel(istiodDir, path); err == nil && rel == "etc/cacerts" {
		return "./etc/cacerts"
	}
	return path
}

// reportHas: a line of a vaultca report reading "STATUS  name...".
func reportHas(out, status, name string) bool {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == status &&
			strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(sc.Text(), status)), name) {
			return true
		}
	}
	return false
}
