package netconf

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/sami-netops/sami/pkg/netconf/framing"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// nopBackend accepts everything and writes a little data.
type nopBackend struct{}

func (nopBackend) Capabilities() []string { return nil }
func (nopBackend) Get(_ context.Context, _ Peer, _ *FilterSpec, w io.Writer) error {
	_, err := io.WriteString(w, `<x xmlns="urn:x"/>`)
	return err
}
func (b nopBackend) GetConfig(ctx context.Context, p Peer, _ Datastore, f *FilterSpec, w io.Writer) error {
	return b.Get(ctx, p, f, w)
}
func (nopBackend) EditConfig(_ context.Context, _ Peer, req *EditRequest) error {
	return skip(req.Config)
}
func (nopBackend) CopyConfig(context.Context, Peer, Datastore, Datastore) error { return nil }
func (nopBackend) DeleteConfig(context.Context, Peer, Datastore) error          { return nil }
func (nopBackend) Lock(context.Context, Peer, Datastore) error                  { return nil }
func (nopBackend) Unlock(context.Context, Peer, Datastore) error                { return nil }
func (nopBackend) DiscardChanges(context.Context, Peer) error                   { return nil }
func (nopBackend) Validate(context.Context, Peer, Datastore) error              { return nil }
func (nopBackend) Commit(context.Context, Peer, CommitRequest) error            { return nil }
func (nopBackend) CancelCommit(context.Context, Peer, string) error             { return nil }
func (nopBackend) SessionClosed(context.Context, Peer)                          {}

type discardRWC struct{}

func (discardRWC) Read([]byte) (int, error)    { return 0, io.EOF }
func (discardRWC) Write(p []byte) (int, error) { return len(p), nil }
func (discardRWC) Close() error                { return nil }

// FuzzServerRequest: whatever a client sends inside a well-framed message,
// the server answers (or ends the session) without panicking, and every
// reply it writes is a well-formed <rpc-reply>.
func FuzzServerRequest(f *testing.F) {
	for _, seed := range []string{
		`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get><filter type="subtree"><a xmlns="urn:a"/></filter></get></rpc>`,
		`<rpc message-id="2" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><edit-config><target><candidate/></target><default-operation>none</default-operation><config><a xmlns="urn:a"><b>1</b></a></config></edit-config></rpc>`,
		`<rpc message-id="3" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><commit><confirmed/><confirm-timeout>30</confirm-timeout><persist>x</persist></commit></rpc>`,
		`<rpc message-id="4" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><kill-session><session-id>9</session-id></kill-session></rpc>`,
		`<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><lock><target><running/></target></lock></rpc>`,
		`<nc:rpc message-id="5" a="&amp;" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><nc:get-config><nc:source><nc:running/></nc:source><nc:filter type="xpath" select="/a"/></nc:get-config></nc:rpc>`,
		`<rpc message-id="6" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><close-session/></rpc>`,
	} {
		f.Add([]byte(seed))
	}
	srv, err := NewServer(nopBackend{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out writeRecorder
		ss := newServerSession(srv, rwc{discardRWC{}, &out}, Peer{SessionID: 1, User: "f", Perm: ReadWrite})
		defer ss.close()
		ss.handle(context.Background(), xmltok.NewBytes(data))
		// Each reply the server wrote must parse as an rpc-reply.
		fr := framing.NewReader(&out.buf)
		for {
			m, err := fr.NextMessage()
			if err != nil {
				return
			}
			tk := xmltok.New(m)
			if err := firstElement(tk); err != nil {
				t.Fatalf("server wrote a reply that is not XML: %v", err)
			}
			if _, _, err := parseReply(tk, attr(tk, "message-id"), nil); err != nil {
				t.Fatalf("server wrote a malformed reply: %v", err)
			}
		}
	})
}

// FuzzClientReply: the client's reply parser never panics on what a server
// sends.
func FuzzClientReply(f *testing.F) {
	for _, seed := range []string{
		`<rpc-reply message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><ok/></rpc-reply>`,
		`<rpc-reply message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data><a xmlns="urn:a"><b>x</b></a></data></rpc-reply>`,
		`<rpc-reply message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><rpc-error><error-type>rpc</error-type><error-tag>in-use</error-tag><error-severity>error</error-severity><error-info><session-id>3</session-id></error-info></rpc-error></rpc-reply>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk := xmltok.NewBytes(data)
		if err := firstElement(tk); err != nil {
			return
		}
		parseReply(tk, "1", nil)
	})
}

type writeRecorder struct{ buf bytesBuffer }

func (w *writeRecorder) Write(p []byte) (int, error) { return w.buf.Write(p) }

type rwc struct {
	discardRWC
	io.Writer
}

func (r rwc) Write(p []byte) (int, error) { return r.Writer.Write(p) }

type bytesBuffer = bytes.Buffer
