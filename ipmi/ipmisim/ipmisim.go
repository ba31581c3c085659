// Package ipmisim runs OpenIPMI's BMC simulator (ipmi_sim, Debian package
// openipmi) on loopback for tests, in the style of net/http/httptest: Start
// compiles a board (an sdrcomp source and an ipmi_sim emulation file) into
// a fresh state directory, starts the simulator on free ports and returns
// once it answers. Relay counts the datagrams any client (prefail,
// ipmitool, FreeIPMI) sends; with Relay.Mangle it plays a hostile BMC once
// the session is up (hostile.go). Ipmitool runs the peer tool against the
// same simulator for cross-checks.
//
// Boards live in testdata/ipmi/boards/<name>/{board.sdrs,board.emu}.
package ipmisim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
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

// Default credentials of the simulated BMC's administrator.
const (
	Username = "admin"
	Password = "password"
)

// Sim is a running ipmi_sim.
type Sim struct {
	Host        string
	Port        int
	ConsolePort int
	Username    string
	Password    string
	StateDir    string

	cmd    *exec.Cmd
	output *bytes.Buffer
	done   chan struct{}
	once   sync.Once
}

type config struct {
	sdrTime time.Time
}

// Option configures Start.
type Option func(*config)

// WithSDRTime sets the SDR repository's most-recent-addition timestamp
// (default 2026-01-01). sdrcomp stamps the compile time, which would make
// every start look like a changed repository to an SDR cache.
func WithSDRTime(t time.Time) Option { return func(c *config) { c.sdrTime = t } }

// Addr is "host:port" of the RMCP/RMCP+ endpoint.
func (s *Sim) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Output is what ipmi_sim printed so far.
func (s *Sim) Output() string { return s.output.String() }

// Start compiles boardDir's board.sdrs with `sdrcomp -8` (its 6-bit
// packing of upper-case names is broken), lays out a state directory,
// writes a lan.conf on free loopback ports and starts ipmi_sim.
func Start(ctx context.Context, boardDir string, opts ...Option) (*Sim, error) {
	cfg := config{sdrTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, o := range opts {
		o(&cfg)
	}
	for _, tool := range []string{"ipmi_sim", "sdrcomp"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: install Debian's openipmi (apt-get install -y openipmi): %w", tool, err)
		}
	}
	abs, err := filepath.Abs(boardDir)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(abs)
	state, err := os.MkdirTemp("", "ipmisim-"+name+"-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Sim, error) {
		os.RemoveAll(state)
		return nil, err
	}
	repoDir := filepath.Join(state, "ipmi_sim", name)
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return fail(err)
	}
	sdrFile := filepath.Join(repoDir, "sdr.20.main")
	if out, err := exec.CommandContext(ctx, "sdrcomp", "-8", "-o", sdrFile, filepath.Join(abs, "board.sdrs")).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("sdrcomp %s: %v: %s", boardDir, err, out))
	}
	if err := setSDRTime(sdrFile, cfg.sdrTime); err != nil {
		return fail(err)
	}
	udpPort, err := freePort("udp")
	if err != nil {
		return fail(err)
	}
	tcpPort, err := freePort("tcp")
	if err != nil {
		return fail(err)
	}
	s := &Sim{Host: "127.0.0.1", Port: udpPort, ConsolePort: tcpPort, Username: Username, Password: Password, StateDir: state,
		output: &bytes.Buffer{}, done: make(chan struct{})}
	lan := filepath.Join(state, "lan.conf")
	if err := os.WriteFile(lan, []byte(lanConf(name, s)), 0o600); err != nil {
		return fail(err)
	}
	// Not CommandContext: the simulator outlives Start's context; Close ends it.
	s.cmd = exec.Command("ipmi_sim", "-c", lan, "-f", filepath.Join(abs, "board.emu"), "-s", state, "-n")
	s.cmd.Stdout, s.cmd.Stderr = &lockedWriter{b: s.output}, &lockedWriter{b: s.output}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("ipmi_sim: %w", err))
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx); err != nil {
		out := s.Output()
		s.Close()
		return nil, fmt.Errorf("ipmi_sim %s did not come up: %w\n%s", name, err, out)
	}
	return s, nil
}

// StartT is Start for tests: it fails the test (never skips it) when the
// simulator cannot run, and stops it at the end of the test.
func StartT(t testing.TB, boardDir string, opts ...Option) *Sim {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, boardDir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func lanConf(name string, s *Sim) string {
	return fmt.Sprintf(`name "%s"
set_working_mc 0x20
  startlan 1
    addr %s %d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 1 true  ""      "test"     user  10 none md2 md5 straight
  user 2 true  "%s" "%s" admin 10 none md2 md5 straight
console %s %d
`, name, s.Host, s.Port, s.Username, s.Password, s.Host, s.ConsolePort)
}

// setSDRTime sets the repository's most-recent-addition time: the
// "last_add_time:i:<unix seconds>" line of ipmi_sim's persisted SDR
// repository (which is what sdrcomp writes).
func setSDRTime(file string, t time.Time) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(b), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, "last_add_time:i:") {
			lines[i] = fmt.Sprintf("last_add_time:i:%d\n", t.Unix())
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: no last_add_time line (sdrcomp output format changed?)", file)
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "")), 0o644)
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady sends RMCP presence pings (ASF, DMTF DSP0136) until a pong.
func (s *Sim) waitReady(ctx context.Context) error {
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x00, 0x00, 0x00}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("ipmi_sim exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.Dial("udp", s.Addr())
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = c.Write(ping)
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			c.Close()
			if err == nil && n > 8 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no RMCP pong within 10s")
}

// Console sends ipmi_sim_cmd(5) commands to the simulator's console and
// returns what it printed.
func (s *Sim) Console(ctx context.Context, cmds ...string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.ConsolePort)))
	if err != nil {
		return "", err
	}
	defer c.Close()
	for _, cmd := range cmds {
		if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
			return "", err
		}
	}
	// The console echoes a prompt per command; give it a moment to apply.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var out bytes.Buffer
	r := bufio.NewReader(c)
	_, _ = out.ReadFrom(r)
	return out.String(), nil
}

// Close stops the simulator and removes its state.
func (s *Sim) Close() error {
	s.once.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
			}
		}
		os.RemoveAll(s.StateDir)
	})
	return nil
}

// SetSELTime sets the SEL clock (Set SEL Time, IPMI v2.0 §31.11) so
// events get real dates instead of seconds since the simulator started.
func SetSELTime(ctx context.Context, s *Sim, t time.Time) error {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(t.Unix()))
	_, err := Ipmitool(ctx, s.Host, s.Port, s.Username, s.Password, "raw", "0x0a", "0x49",
		fmt.Sprint(b[0]), fmt.Sprint(b[1]), fmt.Sprint(b[2]), fmt.Sprint(b[3]))
	return err
}

// Ipmitool runs ipmitool over lanplus (cipher suite 3) against host:port;
// the password goes through the environment (-E), not argv.
func Ipmitool(ctx context.Context, host string, port int, user, pass string, args ...string) (string, error) {
	full := append([]string{"-I", "lanplus", "-C", "3", "-H", host, "-p", strconv.Itoa(port), "-U", user, "-E"}, args...)
	cmd := exec.CommandContext(ctx, "ipmitool", full...)
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+pass)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ipmitool %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// FreeIPMI runs a FreeIPMI tool (ipmi-sensors, ipmi-sel, ...) over IPMI
// 2.0 against host:port with the given extra arguments. FreeIPMI takes the
// password on its command line or in a config file: the file is used.
func FreeIPMI(ctx context.Context, tool, host string, port int, user, pass string, args ...string) (string, error) {
	f, err := os.CreateTemp("", "freeipmi-*.conf")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	fmt.Fprintf(f, "username %s\npassword %s\ndriver-type LAN_2_0\nprivilege-level ADMIN\nworkaround-flags opensesspriv\n", user, pass)
	f.Close()
	full := append([]string{"--config-file", f.Name(), "-h", net.JoinHostPort(host, strconv.Itoa(port))}, args...)
	cmd := exec.CommandContext(ctx, tool, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
