package netconf_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/netconf/framing"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// scripted is an in-memory NETCONF server: it answers each rpc with
// reply(body) where body is the rpc's inner XML.
type scripted struct {
	base11 bool
	hello  string // overrides the server hello when set
	reply  func(id, body string) string
	// got records the rpc bodies received.
	mu  sync.Mutex
	got []string
}

func (sc *scripted) serve(t *testing.T, conn net.Conn) {
	defer conn.Close()
	fr := framing.NewReader(conn)
	fw := framing.NewWriter(conn)
	caps := `<capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:capability:candidate:1.0</capability><capability>urn:ietf:params:netconf:capability:confirmed-commit:1.1</capability>`
	if sc.base11 {
		caps += `<capability>urn:ietf:params:netconf:base:1.1</capability>`
	}
	hello := sc.hello
	if hello == "" {
		hello = `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>` + caps + `</capabilities><session-id>7</session-id></hello>`
	}
	w := fw.NewMessage()
	io.WriteString(w, hello)
	if err := w.Close(); err != nil {
		return
	}
	m, err := fr.NextMessage()
	if err != nil {
		return
	}
	client, _ := io.ReadAll(m)
	if sc.base11 && strings.Contains(string(client), "base:1.1") {
		fr.SetChunked(true)
		fw.SetChunked(true)
	}
	for {
		m, err := fr.NextMessage()
		if err != nil {
			return
		}
		b, err := io.ReadAll(m)
		if err != nil {
			return
		}
		var rpc struct {
			ID    string `xml:"message-id,attr"`
			Inner string `xml:",innerxml"`
		}
		if err := xml.Unmarshal(b, &rpc); err != nil {
			t.Errorf("server: bad rpc %q: %v", b, err)
			return
		}
		sc.mu.Lock()
		sc.got = append(sc.got, rpc.Inner)
		sc.mu.Unlock()
		out := sc.reply(rpc.ID, rpc.Inner)
		if out == "" {
			continue // no answer: the client must time out
		}
		w := fw.NewMessage()
		io.WriteString(w, out)
		if err := w.Close(); err != nil {
			return
		}
	}
}

func okReply(id, _ string) string {
	return `<rpc-reply message-id="` + id + `" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><ok/></rpc-reply>`
}

func dialScripted(t *testing.T, sc *scripted, opts ...netconf.Option) *netconf.Session {
	t.Helper()
	c, s := net.Pipe()
	go sc.serve(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess, err := netconf.NewSession(ctx, c, opts...)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

func TestSessionHelloAndFraming(t *testing.T) {
	for _, tt := range []struct {
		name    string
		base11  bool
		opts    []netconf.Option
		chunked bool
	}{
		{"base 1.0 server", false, nil, false},
		{"base 1.1 server", true, nil, true},
		{"base 1.1 server, client forces 1.0", true, []netconf.Option{netconf.WithBase10Only()}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scripted{base11: tt.base11, reply: okReply}
			s := dialScripted(t, sc, tt.opts...)
			if s.Chunked() != tt.chunked || s.ID() != 7 {
				t.Fatalf("chunked=%v id=%d", s.Chunked(), s.ID())
			}
			if !s.Capabilities().Has(netconf.CapCandidate) || !s.Capabilities().ConfirmedCommit11() {
				t.Errorf("capabilities: %v", s.Capabilities().URIs())
			}
			if err := s.Lock(context.Background(), netconf.Candidate); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(context.Background(), netconf.ConfirmTimeout(90*time.Second), netconf.Persist("p&1")); err != nil {
				t.Fatal(err)
			}
			want := []string{
				`<lock><target><candidate/></target></lock>`,
				`<commit><confirmed/><confirm-timeout>90</confirm-timeout><persist>p&amp;1</persist></commit>`,
			}
			if diff := cmp.Diff(want, sc.got); diff != "" {
				t.Errorf("rpcs on the wire (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionBadHello(t *testing.T) {
	for name, hello := range map[string]string{
		"no session-id": `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>`,
		"no base":       `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:x</capability></capabilities><session-id>1</session-id></hello>`,
		"not xml":       `hello?`,
	} {
		t.Run(name, func(t *testing.T) {
			c, s := net.Pipe()
			go (&scripted{hello: hello, reply: okReply}).serve(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := netconf.NewSession(ctx, c)
			if !errors.Is(err, netconf.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
}

func TestSessionHelloDeadline(t *testing.T) {
	c, s := net.Pipe()
	defer s.Close()
	go io.Copy(io.Discard, s) // a server that never says hello
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := netconf.NewSession(ctx, c)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}

func TestRPCErrors(t *testing.T) {
	sc := &scripted{reply: func(id, body string) string {
		return `<rpc-reply message-id="` + id + `" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
		<rpc-error><error-type>protocol</error-type><error-tag>lock-denied</error-tag><error-severity>error</error-severity>
		<error-message xml:lang="en">Lock failed, lock is already held</error-message>
		<error-info><session-id>12</session-id></error-info></rpc-error>
		<rpc-error><error-type>application</error-type><error-tag>invalid-value</error-tag><error-severity>error</error-severity>
		<error-app-tag>range</error-app-tag><error-path xmlns:t="urn:t">/t:a/t:b</error-path>
		<error-info><nc:bad-element>b</nc:bad-element></error-info></rpc-error>
		<rpc-error><error-type>application</error-type><error-tag>operation-failed</error-tag><error-severity>warning</error-severity></rpc-error>
		</rpc-reply>`
	}}
	s := dialScripted(t, sc)
	rep, err := s.Call(context.Background(), netconf.OpFunc(func(w io.Writer) error {
		_, err := io.WriteString(w, "<lock><target><running/></target></lock>")
		return err
	}))
	var re *netconf.RPCError
	if !errors.As(err, &re) || re.Tag != "lock-denied" || re.Info["session-id"] != "12" || re.Lang != "en" {
		t.Fatalf("first error: %#v (%v)", re, err)
	}
	if !errors.Is(err, &netconf.RPCError{Tag: "invalid-value", AppTag: "range"}) {
		t.Errorf("errors.Is invalid-value/range failed: %v", err)
	}
	var all netconf.RPCErrors
	if !errors.As(err, &all) || len(all) != 2 || all[1].Path != "/t:a/t:b" || all[1].Info["bad-element"] != "b" {
		t.Errorf("RPCErrors: %#v", all)
	}
	if rep == nil || len(rep.Warnings) != 1 || rep.Warnings[0].Tag != "operation-failed" {
		t.Errorf("warnings: %#v", rep)
	}
	// The session survives rpc-errors.
	sc.reply = okReply
	if err := s.Unlock(context.Background(), netconf.Running); err != nil {
		t.Fatal(err)
	}
}

func TestReplyData(t *testing.T) {
	sc := &scripted{reply: func(id, body string) string {
		return `<nc:rpc-reply message-id="` + id + `" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:s="urn:s" last-modified="x">
		<nc:data><s:top><s:leaf>a &amp; b</s:leaf></s:top><other xmlns="urn:o"/></nc:data></nc:rpc-reply>`
	}}
	s := dialScripted(t, sc)
	rep, err := s.GetConfig(context.Background(), netconf.Running, netconf.Subtree(`<top xmlns="urn:s"/>`))
	if err != nil {
		t.Fatal(err)
	}
	want := `<s:top xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:s="urn:s"><s:leaf>a &amp; b</s:leaf></s:top>` +
		`<other xmlns="urn:o" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:s="urn:s"></other>`
	if string(rep.Data) != want {
		t.Errorf("data:\n got %s\nwant %s", rep.Data, want)
	}
	// The same through a DataFunc, token by token.
	var names []string
	_, err = s.Get(context.Background(), nil, netconf.WithData(func(tk *xmltok.Tokenizer, ns map[string]string) error {
		if ns["s"] != "urn:s" || string(tk.Local()) != "data" {
			return fmt.Errorf("ns %v start %s", ns, tk.Local())
		}
		depth := 0
		for {
			k, err := tk.Next()
			if err != nil {
				return err
			}
			switch k {
			case xmltok.StartElement:
				depth++
				names = append(names, string(tk.Local()))
			case xmltok.EndElement:
				if depth == 0 {
					return nil
				}
				depth--
			}
		}
	}))
	if err != nil || !cmp.Equal(names, []string{"top", "leaf", "other"}) {
		t.Fatalf("%v %v", err, names)
	}
}

func TestProtocolErrorsCloseSession(t *testing.T) {
	for name, reply := range map[string]func(id, body string) string{
		"wrong message-id": func(id, _ string) string { return okReply(id+"9", "") },
		"not a reply":      func(id, _ string) string { return `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>` },
		"truncated": func(id, _ string) string {
			return `<rpc-reply message-id="` + id + `" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><ok/>`
		},
		"wrong namespace": func(id, _ string) string { return `<rpc-reply message-id="` + id + `" xmlns="urn:x"><ok/></rpc-reply>` },
	} {
		t.Run(name, func(t *testing.T) {
			s := dialScripted(t, &scripted{reply: reply})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := s.DiscardChanges(ctx)
			if !errors.Is(err, netconf.ErrProtocol) && !errors.Is(err, netconf.ErrClosed) {
				t.Fatalf("got %v", err)
			}
			select {
			case <-s.Done():
			case <-time.After(2 * time.Second):
				t.Fatal("session still up after a protocol error")
			}
			if err := s.DiscardChanges(ctx); err == nil {
				t.Fatal("call on a dead session succeeded")
			}
		})
	}
}

func TestCallDeadline(t *testing.T) {
	s := dialScripted(t, &scripted{reply: func(id, body string) string { return "" }})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Commit(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
	<-s.Done()
}

func TestConcurrentCallers(t *testing.T) {
	s := dialScripted(t, &scripted{base11: true, reply: func(id, body string) string {
		return `<rpc-reply message-id="` + id + `" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data><echo xmlns="urn:e">` + id + `</echo></data></rpc-reply>`
	}})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				rep, err := s.Get(context.Background(), nil)
				if err != nil {
					errs <- err
					return
				}
				if want := ">" + rep.MessageID + "</echo>"; !strings.Contains(string(rep.Data), want) {
					errs <- fmt.Errorf("reply %s carries %s", rep.MessageID, rep.Data)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCapabilityChecks(t *testing.T) {
	s := dialScripted(t, &scripted{hello: `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities><session-id>3</session-id></hello>`, reply: okReply})
	if err := s.Commit(context.Background(), netconf.Persist("x")); !errors.Is(err, netconf.ErrCapability) {
		t.Fatalf("persist without :confirmed-commit:1.1: %v", err)
	}
	if err := s.Commit(context.Background(), netconf.Confirmed()); !errors.Is(err, netconf.ErrCapability) {
		t.Fatalf("confirmed without :confirmed-commit: %v", err)
	}
}

func TestParseCapabilities(t *testing.T) {
	c := netconf.ParseCapabilities([]string{
		"urn:ietf:params:netconf:base:1.1",
		" urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=trim,report-all ",
		"urn:sami:params:xml:ns:yang:sami-flow-state?module=sami-flow-state&revision=2026-11-21&features=a,b",
	})
	if !c.Has(netconf.CapBase11) || c.Has(netconf.CapBase10) {
		t.Error("base")
	}
	if got := c.Params(netconf.CapWithDefaults).Get("basic-mode"); got != "explicit" {
		t.Errorf("with-defaults basic-mode %q", got)
	}
	m, ok := c.Module("sami-flow-state")
	want := netconf.ModuleCap{Namespace: "urn:sami:params:xml:ns:yang:sami-flow-state", Name: "sami-flow-state", Revision: "2026-11-21", Features: []string{"a", "b"}}
	if !ok || !cmp.Equal(m, want) {
		t.Errorf("module: %+v", m)
	}
}

// TestClientBadStreams: an oversized reply, a server that stops half-way
// through a reply, and garbage instead of a reply all end the call with an
// error within its deadline, and the session with it.
func TestClientBadStreams(t *testing.T) {
	for name, reply := range map[string]func(id, body string) string{
		"oversized reply": func(id, _ string) string {
			return `<rpc-reply message-id="` + id + `" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data>` + strings.Repeat("<x/>", 1<<15) + `</data></rpc-reply>`
		},
		"garbage": func(id, _ string) string { return "\x00\x01 not xml at all" },
	} {
		t.Run(name, func(t *testing.T) {
			s := dialScripted(t, &scripted{base11: true, reply: reply}, netconf.WithMaxMessageSize(1<<16))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			if _, err := s.Get(ctx, nil); err == nil || time.Since(start) > 4*time.Second {
				t.Fatalf("got %v after %v", err, time.Since(start))
			}
			<-s.Done()
		})
	}
	t.Run("server stops mid-reply", func(t *testing.T) {
		c, srv := net.Pipe()
		go func() {
			fr, fw := framing.NewReader(srv), framing.NewWriter(srv)
			w := fw.NewMessage()
			io.WriteString(w, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities><session-id>1</session-id></hello>`)
			w.Close()
			m, _ := fr.NextMessage()
			io.Copy(io.Discard, m)
			m, _ = fr.NextMessage() // the rpc
			io.Copy(io.Discard, m)
			io.WriteString(srv, `<rpc-reply message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data><half`)
			// ... and never more: no end of message, connection left open.
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := netconf.NewSession(ctx, c)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = s.Get(ctx, nil)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
	})
}
