// Package natstest runs a real nats-server (the Debian package's
// /usr/sbin/nats-server, or nats-server on PATH) with JetStream on a
// free loopback port, for tests: Start, Stop, Restart (same port, same
// storage, so streams survive). A test that needs it fails, never skips,
// when nats-server is not installed: CI installs it.
package natstest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running nats-server.
type Server struct {
	// URL is the client URL, nats://127.0.0.1:port.
	URL string
	// Port is the client port; StoreDir the JetStream storage directory.
	Port     int
	StoreDir string

	t    testing.TB
	bin  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // cmd's Wait result
	out    *lockedBuffer
}

// Binary returns the path of nats-server, or an error saying how to
// install it.
func Binary() (string, error) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, nil
	}
	if st, err := os.Stat("/usr/sbin/nats-server"); err == nil && !st.IsDir() {
		return "/usr/sbin/nats-server", nil
	}
	return "", fmt.Errorf("natstest: nats-server is not installed (not on PATH, not /usr/sbin/nats-server); " +
		"install it: apt-get install nats-server")
}

// Start runs nats-server with JetStream (-js) storing in a temporary
// directory, listening on 127.0.0.1 on a free port; extra arguments are
// passed on (e.g. "--auth", token). It is stopped when the test ends, and
// its output is logged if the test failed.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("natstest: find a free port: %v", err)
	}
	dir := t.TempDir()
	s := &Server{
		URL: "nats://127.0.0.1:" + strconv.Itoa(port), Port: port, StoreDir: filepath.Join(dir, "js"),
		t: t, bin: bin, out: &lockedBuffer{},
	}
	s.args = append([]string{"-js", "-sd", s.StoreDir, "-a", "127.0.0.1", "-p", strconv.Itoa(port)}, extra...)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("nats-server output:\n%s", s.Output())
		}
	})
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natstest: start %s: %w", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ready(s.Port) {
			s.cmd = cmd
			s.exited = exited
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("natstest: nats-server exited before it was ready (%v):\n%s", err, s.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("natstest: nats-server not ready after 15s:\n%s", s.out.String())
		}
	}
}

// ready says the server answers on port with its INFO line.
func ready(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

// Stop stops the server (SIGTERM, so JetStream flushes its storage; a
// kill after 10 s). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
}

// Restart stops the server and starts it again on the same port with the
// same storage; it fails the test if it does not come back.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Output is what the server printed so far.
func (s *Server) Output() string { return s.out.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
