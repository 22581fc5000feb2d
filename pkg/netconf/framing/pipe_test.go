package framing_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

func netPipe() (client, server net.Conn) { return net.Pipe() }

// waitFor returns what done delivers, or an error if that takes too long.
func waitFor(done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("timed out: reader still blocked")
	}
}

// TestCloseUnblocksReader: a peer that stops in the middle of a message
// leaves the receive loop blocked in Read; closing the connection (either
// end) must end that Read with an error, promptly.
func TestCloseUnblocksReader(t *testing.T) {
	partial := map[bool]string{
		false: "<rpc-reply><data>half of it",
		true:  "\n#100\n<rpc-reply><data>half of it",
	}
	for _, chunkedMode := range []bool{false, true} {
		for _, closeOwnEnd := range []bool{false, true} {
			peer, conn := netPipe()
			r := framing.NewReader(conn)
			r.SetChunked(chunkedMode)
			go func() { _, _ = peer.Write([]byte(partial[chunkedMode])) }()

			started := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				m, err := r.NextMessage()
				if err != nil {
					done <- err
					return
				}
				close(started)
				_, err = io.ReadAll(m)
				done <- err
			}()
			select {
			case <-started:
			case err := <-done:
				t.Fatalf("NextMessage: %v", err)
			}
			// Give the reader time to block on the pipe.
			time.Sleep(20 * time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("read ended before the close: %v", err)
			default:
			}

			start := time.Now()
			if closeOwnEnd {
				conn.Close()
			} else {
				peer.Close()
			}
			err := waitFor(done)
			switch {
			case err == nil:
				t.Errorf("chunked=%v closeOwnEnd=%v: read returned no error", chunkedMode, closeOwnEnd)
			case closeOwnEnd && !errors.Is(err, io.ErrClosedPipe):
				t.Errorf("chunked=%v: closing our end: %v, want io.ErrClosedPipe", chunkedMode, err)
			case !closeOwnEnd && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("chunked=%v: peer closing: %v, want io.ErrUnexpectedEOF", chunkedMode, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("read took %v to return after the close", d)
			}
			// The failure is sticky.
			if _, err2 := r.NextMessage(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("NextMessage after the failure: %v", err2)
			}
			peer.Close()
			conn.Close()
		}
	}
}

// TestCloseUnblocksNextMessage: a Reader waiting between messages returns
// when the connection is closed.
func TestCloseUnblocksNextMessage(t *testing.T) {
	peer, conn := netPipe()
	r := framing.NewReader(conn)
	done := make(chan error, 1)
	go func() {
		_, err := r.NextMessage()
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	peer.Close()
	if err := waitFor(done); err != io.EOF {
		t.Errorf("NextMessage after the peer closed: %v, want io.EOF", err)
	}
	conn.Close()
}
