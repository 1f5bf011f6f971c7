package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// broker is one strata process at a time on a fixed data dir and port:
// started, SIGKILLed or stopped with SIGTERM, started again.
type broker struct {
	bin     string
	dataDir string
	port    int
	set     []string // --set KEY=VALUE pairs
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has been reaped
	status  error         // its exit status, once exited is closed
	starts  int
	logFile *os.File
}

// Every broker ever started, so that an exit on any path kills them.
var (
	brokersMu sync.Mutex
	brokers   []*broker
)

// killAllOnSignal kills every broker this process started when it is
// interrupted, then exits; each child also gets SIGKILL through Pdeathsig if
// this process dies without running it.
func killAllOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-ch
		killAll()
		fmt.Fprintf(os.Stderr, "torture: %v: killed the broker, exiting\n", s)
		os.Exit(130)
	}()
}

func killAll() {
	brokersMu.Lock()
	defer brokersMu.Unlock()
	for _, b := range brokers {
		b.kill()
	}
}

func newBroker(bin, dataDir string, port int, logPath string, set ...string) *broker {
	b := &broker{bin: bin, dataDir: dataDir, port: port, set: set, logPath: logPath}
	brokersMu.Lock()
	brokers = append(brokers, b)
	brokersMu.Unlock()
	return b
}

func (b *broker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

// start runs strata and waits (at most timeout) until it accepts
// connections: it binds only after recovering every log, so a connection
// means it is ready.
func (b *broker) start(timeout time.Duration) error {
	b.mu.Lock()
	if b.cmd != nil {
		b.mu.Unlock()
		return errors.New("broker already running")
	}
	if b.logFile == nil {
		f, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			b.mu.Unlock()
			return err
		}
		b.logFile = f
	}
	b.starts++
	fmt.Fprintf(b.logFile, "\n===== torture: start %d at %s =====\n", b.starts, time.Now().Format(time.RFC3339Nano))
	args := []string{"serve", "--data-dir", b.dataDir, "--set", "listeners=PLAINTEXT://" + b.addr()}
	for _, kv := range b.set {
		args = append(args, "--set", kv)
	}
	cmd := exec.Command(b.bin, args...)
	cmd.Stdout = b.logFile
	cmd.Stderr = b.logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		return fmt.Errorf("starting %s: %w", b.bin, err)
	}
	exited := make(chan struct{})
	b.cmd, b.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		b.mu.Lock()
		b.status = err
		b.mu.Unlock()
		close(exited)
	}()
	b.mu.Unlock()

	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			b.mu.Lock()
			st := b.status
			b.cmd = nil
			b.mu.Unlock()
			return fmt.Errorf("strata exited during start-up (%v); log: %s\n%s", st, b.logPath, tail(b.logPath, 30))
		default:
		}
		c, err := net.DialTimeout("tcp", b.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			b.kill()
			return fmt.Errorf("strata did not accept connections on %s within %s; log: %s\n%s", b.addr(), timeout, b.logPath, tail(b.logPath, 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pid of the running process, 0 if none.
func (b *broker) pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// alive reports whether the process is running.
func (b *broker) alive() bool {
	b.mu.Lock()
	exited := b.exited
	running := b.cmd != nil
	b.mu.Unlock()
	if !running {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and reaps the process (no-op when none runs).
func (b *broker) kill() {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited // SIGKILL cannot be caught: the process is gone promptly
	b.mu.Lock()
	b.cmd = nil
	b.mu.Unlock()
}

// stop sends SIGTERM and waits up to timeout for a clean exit; it kills the
// process if it does not stop in time. Returns the exit status.
func (b *broker) stop(timeout time.Duration) error {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil {
		return errors.New("broker not running")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		b.kill()
		return fmt.Errorf("strata did not stop within %s of SIGTERM; killed", timeout)
	}
	b.mu.Lock()
	st := b.status
	b.cmd = nil
	b.mu.Unlock()
	return st
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for a loopback port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
