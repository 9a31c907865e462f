package servicetest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"
)

// Build compiles a main package (e.g.
// "github.com/sightline/sightline/services/mailbox/cmd/mailbox") into the
// test's temporary directory and returns the executable, for tests that
// must kill a real process (kill -9 is not something an in-process server
// can undergo). Go's build cache makes a second build of the same package
// a link only.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Process is a service running as its own operating-system process.
type Process struct {
	Addr string
	// MetricsAddr serves /metrics when Options.Metrics was set.
	MetricsAddr string
	Conn        *grpc.ClientConn
	Caller      // Key and the contexts calling with tokens it signs

	bin  string
	args []string
	logs *syncBuffer
	cmd  *exec.Cmd
	exit *exit // of the current run
}

// StartProcess runs bin serve with the same flags as Start (plus o.Args)
// on a free loopback port (or o.Addr) and waits until it is SERVING. Like
// Start, it keeps the test's environment from configuring the service: the
// process gets only PATH, HOME and TMPDIR. The process is killed when the
// test ends.
//
// A free port is free when chosen, and another test may take it before the
// process binds it: a process that exits during start saying so is
// started again on other ports.
func StartProcess(t testing.TB, bin string, o Options) *Process {
	t.Helper()
	key := o.key(t)
	for attempt := 1; ; attempt++ {
		addr := o.Addr
		if addr == "" {
			addr = freeAddr(t)
		}
		p := &Process{Addr: addr, Caller: Caller{Key: key}, bin: bin, logs: &syncBuffer{}, args: o.serveArgs(addr)}
		if o.Metrics {
			p.MetricsAddr = freeAddr(t)
			p.args = append(p.args, "--metrics-addr", p.MetricsAddr) // the last occurrence of a flag wins
		}
		p.Conn = o.dial(t, addr)
		err := p.run(t)
		if err == nil {
			t.Cleanup(func() {
				p.Conn.Close()
				p.Kill(t)
			})
			return p
		}
		p.Conn.Close()
		if attempt < 3 && errors.Is(err, errExitedDuringStart) && strings.Contains(p.Logs(), "address already in use") {
			t.Logf("%v (a port was taken): starting again on other ports", err)
			continue
		}
		p.Kill(t)
		t.Fatalf("%v\n%s", err, p.Logs())
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// processEnv is the environment of a service process: what running a
// program needs, none of the settings the test process may carry.
func processEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func (p *Process) start(t testing.TB) {
	t.Helper()
	if err := p.run(t); err != nil {
		t.Fatalf("%v\n%s", err, p.Logs())
	}
}

// run starts the process and waits until it is SERVING.
func (p *Process) run(t testing.TB) error {
	t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Env = processEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exit = newExit()
	go func(cmd *exec.Cmd, ex *exit) { ex.set(cmd.Wait()) }(p.cmd, p.exit)
	return serving(p.bin, p.Conn, p.exit)
}

// Kill sends SIGKILL (kill -9: no cleanup, no drain) and waits for the
// process to be gone. Killing a stopped process does nothing.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exit.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exit.done
}

// Restart starts the process again with the same flags and address.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	p.Kill(t)
	p.start(t)
}

// Logs returns what the process wrote to stdout and stderr.
func (p *Process) Logs() string { return p.logs.String() }
