// Package dovecottest runs a throwaway Dovecot IMAP server for tests (the
// IMAP sync tests of S1/S2 need CONDSTORE, which go-imap's in-memory server
// lacks). It is an ordinary package so that any package's tests can import
// it; it never reads /etc/dovecot: the config and everything Dovecot writes
// live in one temporary directory.
//
// Needs Debian's dovecot-imapd (`apt-get install -y dovecot-imapd`); .ci/run
// installs it. Works as root (mail is stored as nobody:nogroup, since Dovecot
// refuses uid 0) and unprivileged (every service runs as the invoking user).
package dovecottest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Option configures Start.
type Option func(*options)

type options struct {
	format     string
	users      [][2]string
	introspect string
	extra      []string
}

// WithUser adds a user before the server starts (AddUser works later too).
func WithUser(name, pass string) Option {
	return func(o *options) { o.users = append(o.users, [2]string{name, pass}) }
}

// WithOAuth2 offers AUTHENTICATE XOAUTH2 beside the passwords, its bearer
// tokens checked by Dovecot's oauth2 passdb against an RFC 7662
// introspection endpoint: url receives POST token=T and answers JSON
// {"active": true, "username": U} for a token of user U (users must still be
// added, for their mail).
func WithOAuth2(url string) Option { return func(o *options) { o.introspect = url } }

// WithConfig appends settings to the server's configuration; {dir} in them
// is the server's directory.
func WithConfig(settings string) Option {
	return func(o *options) { o.extra = append(o.extra, settings) }
}

// WithMailFormat chooses the mailbox format: "mdbox" (default: fastest
// APPEND), "sdbox" or "maildir" (tests may drop files into new/).
func WithMailFormat(format string) Option { return func(o *options) { o.format = format } }

// Server is a running Dovecot.
type Server struct {
	Dir  string // the temporary directory holding everything
	Conf string // Dir/dovecot.conf

	addr     string
	uid, gid int
	mu       sync.Mutex // serializes AddUser
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Binary returns the dovecot binary: from PATH, else /usr/sbin/dovecot.
func binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH nor /usr/sbin", name)
}

// Start writes a config into a fresh directory, starts `dovecot -F` on a
// free loopback port, waits for its "* OK" greeting and stops it (SIGTERM)
// when the test ends. It fails the test when Dovecot is not installed.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{format: "mdbox"}
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := binary("dovecot")
	if err != nil {
		t.Fatalf("dovecottest: %v: install it with `apt-get install -y dovecot-imapd`", err)
	}
	if _, err := binary("doveadm"); err != nil {
		t.Fatalf("dovecottest: %v: install it with `apt-get install -y dovecot-imapd`", err)
	}
	var lastErr error
	for range 3 { // the free port may be taken between choosing and binding
		s, err := start(t, bin, o)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("dovecottest: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, o options) (*Server, error) {
	// Not t.TempDir: its parents are 0700, and as root the mail user
	// (nobody) must traverse the directory.
	dir, err := os.MkdirTemp("", "dovecottest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Conf: filepath.Join(dir, "dovecot.conf"), exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := s.writeConfig(port, o.format, o.introspect, o.extra); err != nil {
		return nil, err
	}
	for _, u := range o.users {
		if err := s.addUser(u[0], u[1]); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	s.cmd = exec.Command(bin, "-F", "-c", s.Conf)
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitGreeting(10 * time.Second); err != nil {
		s.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		return nil, fmt.Errorf("dovecot did not start on %s: %v\noutput: %s\nlog: %s", s.addr, err, out.String(), log)
	}
	ok = true
	t.Cleanup(func() {
		s.stop()
		_ = os.RemoveAll(dir)
	})
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) writeConfig(port int, format, introspect string, settings []string) error {
	var location string
	switch format {
	case "maildir":
		location = "maildir:~/Maildir"
	case "sdbox", "mdbox":
		location = format + ":~/" + format
	default:
		return fmt.Errorf("mail format %q: want mdbox, sdbox or maildir", format)
	}
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	extra := ""
	if os.Geteuid() == 0 {
		// Dovecot refuses to access mail as uid 0: keep the master as root
		// (the package's dovecot/dovenull users separate privileges) and
		// store mail as nobody:nogroup.
		nobody, err := user.Lookup("nobody")
		if err != nil {
			return err
		}
		s.uid, _ = strconv.Atoi(nobody.Uid)
		s.gid, _ = strconv.Atoi(nobody.Gid)
		if err := os.Chmod(s.Dir, 0o755); err != nil {
			return err
		}
		if err := os.Chown(filepath.Join(s.Dir, "mail"), s.uid, s.gid); err != nil {
			return err
		}
	} else {
		// Rootless: every service runs as the invoking user, no chroots.
		me, err := user.Current()
		if err != nil {
			return err
		}
		g, err := user.LookupGroupId(me.Gid)
		if err != nil {
			return err
		}
		s.uid, s.gid = os.Geteuid(), os.Getegid()
		extra = fmt.Sprintf(`default_internal_user = %[1]s
default_login_user = %[1]s
default_internal_group = %[2]s
service imap-login {
  chroot =
}
service anvil {
  chroot =
}
service auth-worker {
  user = %[1]s
}
`, me.Username, g.Name)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "users"), nil, 0o644); err != nil {
		return err
	}
	for _, x := range settings {
		extra += strings.ReplaceAll(x, "{dir}", s.Dir) + "\n"
	}
	mechanisms := "plain login"
	if introspect != "" {
		oauth2 := filepath.Join(s.Dir, "oauth2.conf.ext")
		if err := os.WriteFile(oauth2, fmt.Appendf(nil, `introspection_mode = post
introspection_url = %s
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
`, introspect), 0o644); err != nil {
			return err
		}
		mechanisms += " xoauth2"
		extra += fmt.Sprintf(`passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = %s
}
`, oauth2)
	}
	conf := fmt.Sprintf(`# written by dovecottest: self-contained, nothing from /etc/dovecot
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = dovecottest-%[2]d
log_path = %[1]s/dovecot.log
login_greeting = %[5]s
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = %[6]s
first_valid_uid = 1
first_valid_gid = 1
mail_location = %[3]s
mail_fsync = never
maildir_very_dirty_syncs = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
    auto = create
  }
  mailbox Trash {
    special_use = \Trash
    auto = create
  }
  mailbox Archive {
    special_use = \Archive
    auto = create
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
%[4]s`, s.Dir, port, location, extra, s.greeting(), mechanisms)
	return os.WriteFile(s.Conf, []byte(conf), 0o644)
}

// greeting is the server's login greeting, unique to its directory.
func (s *Server) greeting() string { return "dovecottest " + filepath.Base(s.Dir) }

func (s *Server) waitGreeting(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("dovecot exited: %v", s.cmd.ProcessState)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			// Its own greeting: another server that took the port between
			// freePort and Dovecot's bind would greet with "* OK" too.
			if rerr == nil && strings.HasPrefix(line, "* OK") && strings.Contains(line, s.greeting()) {
				return nil
			}
			err = fmt.Errorf("greeting %q: %v", line, rerr)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no greeting: %v", last)
}

func (s *Server) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// Addr is the IMAP listener's host:port (plaintext, loopback).
func (s *Server) Addr() string { return s.addr }

// AddUser adds a user with a plaintext password; Dovecot re-reads the
// passwd-file on the next login, so no restart is needed.
func (s *Server) AddUser(t testing.TB, name, pass string) {
	t.Helper()
	if err := s.addUser(name, pass); err != nil {
		t.Fatalf("dovecottest: add user %s: %v", name, err)
	}
}

func (s *Server) addUser(name, pass string) error {
	if name == "" || strings.ContainsAny(name+pass, ":\n\r") {
		return fmt.Errorf("user name and password must be non-empty and contain no ':' or newline")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.Dir, "users"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// user:{PLAIN}pass:uid:gid:gecos:home:shell, used as passdb and userdb.
	_, err = fmt.Fprintf(f, "%s:{PLAIN}%s:%d:%d::%s::\n", name, pass, s.uid, s.gid, filepath.Join(s.Dir, "mail", name))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Doveadm runs `doveadm -c conf args...` and returns its standard output;
// a failure fails the test.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := binary("doveadm")
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	cmd := exec.Command(bin, append([]string{"-c", s.Conf}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dovecottest: doveadm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// Login returns an IMAP client logged in as user; it is closed when the test ends.
func (s *Server) Login(t testing.TB, user, pass string) *imapclient.Client {
	t.Helper()
	c := s.login(t, user, pass)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// login returns an IMAP client logged in as user with pass.
func (s *Server) login(t testing.TB, user, pass string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.addr, nil)
	if err != nil {
		t.Fatalf("dovecottest: dial: %v", err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		_ = c.Close()
		t.Fatalf("dovecottest: login %s: %v", user, err)
	}
	return c
}

// Append APPENDs raw messages to a user's mailbox over IMAP (as the user,
// with Dovecot's master-less passwd: the password is looked up in the
// passwd-file) and returns their UIDs. The messages arrive one by one: a
// client watching the mailbox may see and fetch them as they come.
func (s *Server) Append(t testing.TB, user, mailbox string, raw ...[]byte) []imap.UID {
	t.Helper()
	c := s.dial(t, user)
	defer func() { _ = c.Logout().Wait(); _ = c.Close() }()
	return appendAll(t, c, mailbox, raw)
}

// Deliver makes raw messages appear in a user's mailbox all at once, as a
// burst of new mail does: it APPENDs them to a scratch mailbox and MOVEs them
// over in one command, so a client watching the mailbox sees them in a single
// update, in the order given, with consecutive UIDs.
func (s *Server) Deliver(t testing.TB, user, mailbox string, raw ...[]byte) {
	t.Helper()
	c := s.dial(t, user)
	defer func() { _ = c.Logout().Wait(); _ = c.Close() }()
	const scratch = "dovecottest-deliver"
	if err := c.Create(scratch, nil).Wait(); err != nil {
		t.Fatalf("dovecottest: create %s: %v", scratch, err)
	}
	uids := appendAll(t, c, scratch, raw)
	if _, err := c.Select(scratch, nil).Wait(); err != nil {
		t.Fatalf("dovecottest: select %s: %v", scratch, err)
	}
	if _, err := c.Move(imap.UIDSetNum(uids...), mailbox).Wait(); err != nil {
		t.Fatalf("dovecottest: move to %s: %v", mailbox, err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("dovecottest: unselect: %v", err)
	}
	if err := c.Delete(scratch).Wait(); err != nil {
		t.Fatalf("dovecottest: delete %s: %v", scratch, err)
	}
}

// dial returns an IMAP client logged in as user with the password the
// passwd-file holds for them.
func (s *Server) dial(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	pass, err := s.password(user)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	return s.login(t, user, pass)
}

func appendAll(t testing.TB, c *imapclient.Client, mailbox string, raw [][]byte) []imap.UID {
	t.Helper()
	uids := make([]imap.UID, 0, len(raw))
	for _, m := range raw {
		cmd := c.Append(mailbox, int64(len(m)), nil)
		if _, err := cmd.Write(m); err != nil {
			t.Fatalf("dovecottest: append: %v", err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("dovecottest: append: %v", err)
		}
		data, err := cmd.Wait()
		if err != nil {
			t.Fatalf("dovecottest: append to %s: %v", mailbox, err)
		}
		uids = append(uids, data.UID)
	}
	return uids
}

func (s *Server) password(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(s.Dir, "users"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[0] == name {
			return strings.TrimPrefix(f[1], "{PLAIN}"), nil
		}
	}
	return "", fmt.Errorf("no user %q (AddUser first)", name)
}
