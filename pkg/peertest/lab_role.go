package peertest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Environment of a lab traffic role (a re-executed test binary).
const (
	RoleEnv      = "SAMI_LAB_ROLE" // tcpserver | udpserver | idleclient | bulkclient | udpclient
	roleAddrEnv  = "SAMI_LAB_ADDR" // host:port to listen on or connect to
	roleBytesEnv = "SAMI_LAB_BYTES"
	roleRateEnv  = "SAMI_LAB_RATE"  // bytes/s, 0 = unlimited
	roleEveryEnv = "SAMI_LAB_EVERY" // interval between probes (idle, udp)
	roleWaitEnv  = "SAMI_LAB_WAIT"  // how long an echo may take / a bulk transfer may stall
)

// RunRole turns the process into a lab traffic endpoint when RoleEnv is set
// (the Lab starts the test binary again inside a namespace), and exits; it
// returns at once otherwise. Call it first thing in TestMain (or an init) of
// every test package that uses a Lab's flows:
//
//	func TestMain(m *testing.M) { peertest.RunRole(); os.Exit(m.Run()) }
func RunRole() {
	role := os.Getenv(RoleEnv)
	if role == "" {
		return
	}
	err := runRole(role)
	if err != nil {
		say("ERR %v", err)
		os.Exit(1)
	}
	os.Exit(0)
}

var sayMu sync.Mutex

// say writes one status line to stdout, which the lab reads.
func say(format string, args ...any) {
	sayMu.Lock()
	defer sayMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func envDur(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

func runRole(role string) error {
	addr := os.Getenv(roleAddrEnv)
	switch role {
	case "tcpserver":
		return tcpServer(addr)
	case "udpserver":
		return udpServer(addr)
	case "idleclient":
		return idleClient(addr, envDur(roleEveryEnv, 100*time.Millisecond), envDur(roleWaitEnv, time.Second))
	case "bulkclient":
		return bulkClient(addr, envInt(roleBytesEnv), envInt(roleRateEnv), envDur(roleWaitEnv, 3*time.Second))
	case "udpclient":
		return udpClient(addr, envDur(roleEveryEnv, 100*time.Millisecond), envDur(roleWaitEnv, time.Second))
	}
	return fmt.Errorf("unknown %s=%q", RoleEnv, role)
}

// Connection modes, the first byte a client sends.
const (
	modeEcho = 'E'
	modeBulk = 'B'
)

// idleMsgLen is the size of one idle-mode probe (and its echo).
const idleMsgLen = 16

// tcpServer accepts connections; per connection, mode byte 'E' echoes
// everything back, 'B' hashes everything until EOF and answers with the
// hex SHA-256 and a newline.
func tcpServer(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	say("LISTENING %s", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			var mode [1]byte
			if _, err := io.ReadFull(c, mode[:]); err != nil {
				say("CONNERR %s %v", c.RemoteAddr(), err)
				return
			}
			say("CONN %s %c", c.RemoteAddr(), mode[0])
			switch mode[0] {
			case modeEcho:
				n, err := io.Copy(c, c)
				say("ECHOEND %s %d %v", c.RemoteAddr(), n, err)
			case modeBulk:
				h := sha256.New()
				n, err := io.Copy(h, c)
				if err != nil {
					say("BULKERR %s %d %v", c.RemoteAddr(), n, err)
					return
				}
				sum := hex.EncodeToString(h.Sum(nil))
				say("BULK %s %d %s", c.RemoteAddr(), n, sum)
				fmt.Fprintf(c, "%s\n", sum)
			}
		}()
	}
}

func udpServer(addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	say("LISTENING %s", pc.LocalAddr())
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			say("UDPERR %v", err)
		}
	}
}

// idleClient keeps one connection and sends a probe every `every`; each echo
// must come back within wait.
func idleClient(addr string, every, wait time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte{modeEcho}); err != nil {
		return err
	}
	say("CONNECTED %s", c.LocalAddr())
	msg := make([]byte, idleMsgLen)
	got := make([]byte, idleMsgLen)
	for seq := uint64(1); ; seq++ {
		binary.BigEndian.PutUint64(msg, seq)
		binary.BigEndian.PutUint64(msg[8:], ^seq)
		start := time.Now()
		c.SetDeadline(start.Add(wait))
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("probe %d: write: %w", seq, err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("probe %d: no echo within %v: %w", seq, wait, err)
		}
		if !bytes.Equal(msg, got) {
			return fmt.Errorf("probe %d: echo %x, want %x", seq, got, msg)
		}
		say("ECHO %d %d", seq, time.Since(start).Microseconds())
		time.Sleep(time.Until(start.Add(every)))
	}
}

// outq returns the bytes not yet acknowledged by the peer (SIOCOUTQ).
func outq(c *net.TCPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	var v int32 = -1
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v)))
	})
	return int(v)
}

// bulkClient sends n pseudo-random bytes (rate bytes/s, 0 = unlimited) from
// a socket with a 4 MiB send buffer, half-closes and compares the server's
// SHA-256 with its own. It fails when the peer acknowledges nothing for
// stall while data is outstanding.
func bulkClient(addr string, n, rate int, stall time.Duration) error {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			// FORCE: beyond net.core.wmem_max (we are root).
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, 4<<20)
		})
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := nc.(*net.TCPConn)
	defer c.Close()
	if _, err := c.Write([]byte{modeBulk}); err != nil {
		return err
	}
	say("CONNECTED %s", c.LocalAddr())

	var written atomic.Int64
	var stalled atomic.Value // string
	done := make(chan struct{})
	defer close(done)
	go func() { // progress and stall watchdog
		lastAcked, lastMove := int64(-1), time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			w, q := written.Load(), int64(outq(c))
			acked := w - q
			if acked != lastAcked {
				lastAcked, lastMove = acked, time.Now()
			} else if q > 0 && time.Since(lastMove) > stall {
				stalled.Store(fmt.Sprintf("stalled: nothing acknowledged for %v with %d bytes outstanding (%d written, %d acked)", stall, q, w, acked))
				c.Close()
				return
			}
			if i%3 == 0 {
				say("PROGRESS %d %d %d", w, acked, q)
			}
		}
	}()
	fail := func(err error) error {
		if s, ok := stalled.Load().(string); ok {
			return errors.New(s)
		}
		return err
	}

	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{'s', 'a', 'm', 'i'})
	buf := make([]byte, 64<<10)
	start := time.Now()
	for sent := 0; sent < n; {
		chunk := buf[:min(len(buf), n-sent)]
		rng.Read(chunk)
		h.Write(chunk)
		if _, err := c.Write(chunk); err != nil {
			return fail(fmt.Errorf("write at %d of %d: %w", sent, n, err))
		}
		sent += len(chunk)
		written.Store(int64(sent))
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))))
		}
	}
	if err := c.CloseWrite(); err != nil {
		return fail(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // the watchdog catches stalls sooner
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fail(fmt.Errorf("all %d bytes written, reading the server's hash: %w", n, err))
	}
	want := hex.EncodeToString(h.Sum(nil))
	got := string(bytes.TrimSpace([]byte(line)))
	if got != want {
		return fmt.Errorf("server hashed %s, client sent %s", got, want)
	}
	say("DONE %d %s %v", n, want, time.Since(start).Round(time.Millisecond))
	return nil
}

// udpClient sends a sequence-numbered request every `every`; each response
// must come back within wait (a lost request or response is an error).
func udpClient(addr string, every, wait time.Duration) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	say("CONNECTED %s", c.LocalAddr())
	msg := make([]byte, 8)
	got := make([]byte, 64)
	for seq := uint64(1); ; seq++ {
		binary.BigEndian.PutUint64(msg, seq)
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("request %d: %w", seq, err)
		}
		for {
			c.SetReadDeadline(start.Add(wait))
			n, err := c.Read(got)
			if err != nil {
				return fmt.Errorf("request %d: no response within %v: %w", seq, wait, err)
			}
			if n == 8 && binary.BigEndian.Uint64(got) == seq {
				break
			}
		}
		say("ECHO %d %d", seq, time.Since(start).Microseconds())
		time.Sleep(time.Until(start.Add(every)))
	}
}
