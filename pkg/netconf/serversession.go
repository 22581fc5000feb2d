package netconf

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"github.com/sami-netops/sami/pkg/netconf/framing"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// serverSession is one NETCONF session on the server side. Requests are
// handled one at a time, so replies go out in request order.
type serverSession struct {
	srv  *Server
	t    io.ReadWriteCloser
	peer Peer
	fr   *framing.Reader
	fw   *framing.Writer
	once sync.Once
	done chan struct{}
}

func newServerSession(s *Server, t io.ReadWriteCloser, p Peer) *serverSession {
	return &serverSession{
		srv: s, t: t, peer: p, done: make(chan struct{}),
		fr: framing.NewReader(t, framing.WithMaxMessageSize(s.maxMsg)),
		fw: framing.NewWriter(t),
	}
}

func (ss *serverSession) close() {
	ss.once.Do(func() {
		close(ss.done)
		ss.t.Close()
	})
}

func (ss *serverSession) run(ctx context.Context) error {
	log := ss.srv.log.With("session-id", ss.peer.SessionID, "user", ss.peer.User)
	if err := ss.hello(); err != nil {
		log.Info("hello failed", "err", err)
		return err
	}
	log.Info("netconf session up", "perm", ss.peer.Perm.String(), "remote", ss.peer.Addr)
	stop := context.AfterFunc(ctx, ss.close)
	defer stop()
	var idle *time.Timer
	if ss.srv.idle > 0 {
		idle = time.AfterFunc(ss.srv.idle, func() {
			log.Info("closing idle session", "idle", ss.srv.idle)
			ss.close()
		})
		defer idle.Stop()
	}
	for {
		r, err := ss.fr.NextMessage()
		if err != nil {
			if errors.Is(err, io.EOF) || isClosed(ss.done) {
				return nil
			}
			// A framing error leaves no message boundary to resync on.
			log.Info("closing session on a framing error", "err", err)
			return err
		}
		if idle != nil {
			idle.Reset(ss.srv.idle)
		}
		closeAfter, err := ss.handle(ctx, xmltok.New(r))
		if err != nil {
			log.Info("closing session", "err", err)
			return err
		}
		if closeAfter {
			return nil
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// hello sends ours (with the session-id) while reading the client's.
func (ss *serverSession) hello() error {
	caps := append([]string{CapBase10, CapBase11}, ss.srv.backend.Capabilities()...)
	msg, err := xml.Marshal(&gonetconf.HelloMessage{Capabilities: caps, SessionID: int(ss.peer.SessionID)})
	if err != nil {
		return err
	}
	wrote := make(chan error, 1)
	go func() {
		w := ss.fw.NewMessage()
		if _, err := w.Write(append([]byte(xml.Header), msg...)); err != nil {
			wrote <- err
			return
		}
		wrote <- w.Close()
	}()
	timer := time.AfterFunc(ss.srv.helloTimeout, ss.close)
	defer timer.Stop()
	r, err := ss.fr.NextMessage()
	if err != nil {
		return fmt.Errorf("%w: client hello: %w", ErrTransport, err)
	}
	var h gonetconf.HelloMessage
	if err := xml.NewDecoder(r).Decode(&h); err != nil {
		return fmt.Errorf("%w: client hello: %v", ErrProtocol, err)
	}
	if err := <-wrote; err != nil {
		return fmt.Errorf("%w: server hello: %w", ErrTransport, err)
	}
	if h.SessionID != 0 {
		return fmt.Errorf("%w: client hello carries a session-id", ErrProtocol)
	}
	c := ParseCapabilities(h.Capabilities)
	switch {
	case c.Has(CapBase11):
		ss.fr.SetChunked(true)
		ss.fw.SetChunked(true)
	case c.Has(CapBase10):
	default:
		return fmt.Errorf("%w: client supports neither base:1.0 nor base:1.1", ErrProtocol)
	}
	return nil
}

// request is one <rpc> being handled.
type request struct {
	ss    *serverSession
	tk    *xmltok.Tokenizer
	ns    nsStack
	attrs []byte // the <rpc> attributes, echoed on <rpc-reply>
	op    string
}

// handle processes one message. closeAfter ends the session cleanly
// (close-session); err ends it on a failure (the reply stream is broken).
func (ss *serverSession) handle(ctx context.Context, tk *xmltok.Tokenizer) (closeAfter bool, err error) {
	rq := &request{ss: ss, tk: tk}
	if err := firstElement(tk); err != nil {
		return false, ss.replyErr(nil, malformed(err))
	}
	rq.ns.push(tk)
	if string(tk.Local()) != "rpc" || rq.ns.lookup(string(tk.Prefix())) != BaseNS {
		return false, ss.replyErr(nil, &RPCError{Type: "rpc", Tag: "malformed-message", Severity: "error",
			Message: fmt.Sprintf("expected <rpc> in %s, got <%s>", BaseNS, tk.Local())})
	}
	rq.attrs = echoAttrs(tk)
	if attr(tk, "message-id") == "" {
		return false, ss.replyErr(rq.attrs, &RPCError{Type: "rpc", Tag: "missing-attribute", Severity: "error",
			Message: "<rpc> without message-id", Info: map[string]string{"bad-attribute": "message-id", "bad-element": "rpc"}})
	}
	// The operation element.
	for {
		k, err := tk.Next()
		if err != nil {
			return false, ss.replyErr(rq.attrs, malformed(err))
		}
		if k == xmltok.StartElement {
			break
		}
		if k == xmltok.EndElement {
			return false, ss.replyErr(rq.attrs, &RPCError{Type: "rpc", Tag: "missing-element", Severity: "error",
				Message: "<rpc> names no operation", Info: map[string]string{"bad-element": "rpc"}})
		}
	}
	rq.ns.push(tk)
	rq.op = string(tk.Local())
	if uri := rq.ns.lookup(string(tk.Prefix())); uri != BaseNS {
		return false, ss.replyErr(rq.attrs, &RPCError{Type: "protocol", Tag: "operation-not-supported", Severity: "error",
			Message: fmt.Sprintf("operation <%s> in namespace %q is not supported", rq.op, uri)})
	}
	return rq.dispatch(ctx)
}

func malformed(err error) *RPCError {
	return &RPCError{Type: "rpc", Tag: "malformed-message", Severity: "error", Message: err.Error()}
}

func echoAttrs(tk *xmltok.Tokenizer) []byte {
	var b bytes.Buffer
	for i := range tk.NumAttr() {
		p, l, v := tk.Attr(i)
		if (len(p) == 0 && string(l) == "xmlns") || string(p) == "xmlns" {
			continue
		}
		b.WriteByte(' ')
		if len(p) > 0 {
			b.Write(p)
			b.WriteByte(':')
		}
		b.Write(l)
		b.WriteString(`="`)
		xml.EscapeText(&b, v)
		b.WriteByte('"')
	}
	// Prefixed attributes need their declarations.
	return b.Bytes()
}

var readOnlyOps = map[string]bool{"get": true, "get-config": true, "close-session": true}

func (rq *request) dispatch(ctx context.Context) (bool, error) {
	ss, p := rq.ss, rq.ss.peer
	be := ss.srv.backend
	if p.Perm != ReadWrite && !readOnlyOps[rq.op] {
		rq.skipRest()
		return false, ss.replyErr(rq.attrs, &RPCError{Type: "protocol", Tag: "access-denied", Severity: "error",
			Message: fmt.Sprintf("user %q is %s: <%s> is not allowed", p.User, p.Perm, rq.op)})
	}
	switch rq.op {
	case "get", "get-config":
		prm, _, err := rq.params(false)
		if err != nil {
			return false, ss.replyErr(rq.attrs, err)
		}
		if err := rq.finish(); err != nil {
			return false, ss.replyErr(rq.attrs, err)
		}
		return false, ss.replyData(rq.attrs, func(w io.Writer) error {
			if rq.op == "get" {
				return be.Get(ctx, p, prm.filter, w)
			}
			src, err := prm.datastore("source")
			if err != nil {
				return err
			}
			return be.GetConfig(ctx, p, src, prm.filter, w)
		})
	case "edit-config":
		prm, atConfig, err := rq.params(true)
		if err != nil {
			return false, ss.replyErr(rq.attrs, err)
		}
		target, err := prm.datastore("target")
		if err == nil && !atConfig {
			err = &RPCError{Type: "protocol", Tag: "missing-element", Severity: "error", Message: "<edit-config> without <config> (or <url>, which is not supported)", Info: map[string]string{"bad-element": "config"}}
		}
		if err != nil {
			rq.skipRest()
			return false, ss.replyErr(rq.attrs, err)
		}
		req := &EditRequest{Target: target, DefaultOperation: prm.text["default-operation"], TestOption: prm.text["test-option"],
			ErrorOption: prm.text["error-option"], Config: rq.tk, NS: rq.ns.snapshot()}
		err = be.EditConfig(ctx, p, req)
		if ferr := rq.finish(); ferr != nil && err == nil {
			err = ferr
		}
		return false, ss.replyOK(rq.attrs, err)
	case "copy-config", "delete-config", "lock", "unlock", "validate":
		prm, _, err := rq.params(false)
		if err == nil {
			err = rq.finish()
		}
		if err == nil {
			err = rq.simple(ctx, prm)
		}
		return false, ss.replyOK(rq.attrs, err)
	case "discard-changes":
		err := rq.finish()
		if err == nil {
			err = be.DiscardChanges(ctx, p)
		}
		return false, ss.replyOK(rq.attrs, err)
	case "commit":
		prm, _, err := rq.params(false)
		if err == nil {
			err = rq.finish()
		}
		if err == nil {
			var req CommitRequest
			req, err = prm.commit()
			if err == nil {
				err = be.Commit(ctx, p, req)
			}
		}
		return false, ss.replyOK(rq.attrs, err)
	case "cancel-commit":
		prm, _, err := rq.params(false)
		if err == nil {
			err = rq.finish()
		}
		if err == nil {
			err = be.CancelCommit(ctx, p, prm.text["persist-id"])
		}
		return false, ss.replyOK(rq.attrs, err)
	case "close-session":
		rq.finish()
		return true, ss.replyOK(rq.attrs, nil)
	case "kill-session":
		prm, _, err := rq.params(false)
		if err == nil {
			err = rq.finish()
		}
		if err == nil {
			err = rq.killSession(prm.text["session-id"])
		}
		return false, ss.replyOK(rq.attrs, err)
	}
	rq.skipRest()
	return false, ss.replyErr(rq.attrs, &RPCError{Type: "protocol", Tag: "operation-not-supported", Severity: "error",
		Message: fmt.Sprintf("operation <%s> is not supported", rq.op)})
}

func (rq *request) simple(ctx context.Context, prm *params) error {
	be, p := rq.ss.srv.backend, rq.ss.peer
	switch rq.op {
	case "copy-config":
		target, err := prm.datastore("target")
		if err != nil {
			return err
		}
		source, err := prm.datastore("source")
		if err != nil {
			return err
		}
		return be.CopyConfig(ctx, p, target, source)
	case "delete-config":
		target, err := prm.datastore("target")
		if err != nil {
			return err
		}
		return be.DeleteConfig(ctx, p, target)
	case "lock", "unlock":
		target, err := prm.datastore("target")
		if err != nil {
			return err
		}
		if rq.op == "lock" {
			return be.Lock(ctx, p, target)
		}
		return be.Unlock(ctx, p, target)
	default: // validate
		source, err := prm.datastore("source")
		if err != nil {
			return err
		}
		return be.Validate(ctx, p, source)
	}
}

func (rq *request) killSession(idText string) error {
	id, err := strconv.ParseUint(strings.TrimSpace(idText), 10, 64)
	if err != nil || id == 0 {
		return &RPCError{Type: "protocol", Tag: "invalid-value", Severity: "error", Message: fmt.Sprintf("session-id %q", idText), Info: map[string]string{"bad-element": "session-id"}}
	}
	if id == rq.ss.peer.SessionID {
		return &RPCError{Type: "protocol", Tag: "invalid-value", Severity: "error", Message: "a session cannot kill itself (use close-session)", Info: map[string]string{"bad-element": "session-id"}}
	}
	if !rq.ss.srv.kill(id) {
		return &RPCError{Type: "protocol", Tag: "invalid-value", Severity: "error", Message: fmt.Sprintf("no session %d", id), Info: map[string]string{"bad-element": "session-id"}}
	}
	return nil
}

// params are an operation's parameters.
type params struct {
	text   map[string]string
	ds     map[string]string // target/source -> datastore element name
	filter *FilterSpec
}

func (p *params) datastore(which string) (Datastore, error) {
	name, ok := p.ds[which]
	if !ok {
		return "", &RPCError{Type: "protocol", Tag: "missing-element", Severity: "error", Message: fmt.Sprintf("<%s> is required", which), Info: map[string]string{"bad-element": which}}
	}
	switch d := Datastore(name); d {
	case Running, Candidate, Startup:
		return d, nil
	}
	return "", &RPCError{Type: "protocol", Tag: "operation-not-supported", Severity: "error", Message: fmt.Sprintf("<%s> <%s> is not supported (running, candidate, startup)", which, name), Info: map[string]string{"bad-element": name}}
}

func (p *params) commit() (CommitRequest, error) {
	req := CommitRequest{Persist: p.text["persist"], PersistID: p.text["persist-id"]}
	_, req.Confirmed = p.text["confirmed"]
	if t, ok := p.text["confirm-timeout"]; ok {
		n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 32)
		if err != nil || n == 0 {
			return req, &RPCError{Type: "protocol", Tag: "invalid-value", Severity: "error", Message: fmt.Sprintf("confirm-timeout %q is not a positive number of seconds", t), Info: map[string]string{"bad-element": "confirm-timeout"}}
		}
		req.Timeout = time.Duration(n) * time.Second
	}
	return req, nil
}

// params reads the operation's parameters. With stopAtConfig it returns at
// a <config> start tag (atConfig), leaving it to the backend.
func (rq *request) params(stopAtConfig bool) (*params, bool, error) {
	prm := &params{text: map[string]string{}, ds: map[string]string{}}
	tk := rq.tk
	for {
		k, err := tk.Next()
		if err != nil {
			return nil, false, malformed(err)
		}
		switch k {
		case xmltok.EndElement:
			rq.ns.pop() // the operation element
			rq.op = rq.op + "/done"
			rq.op = strings.TrimSuffix(rq.op, "/done")
			return prm, false, nil
		case xmltok.StartElement:
			rq.ns.push(tk)
			name := string(tk.Local())
			switch {
			case name == "config" && stopAtConfig:
				return prm, true, nil // ns keeps <config> pushed for the backend's scope
			case name == "filter":
				f, err := rq.filter()
				if err != nil {
					return nil, false, err
				}
				prm.filter = f
			case name == "target" || name == "source":
				ds, err := rq.datastoreElement()
				if err != nil {
					return nil, false, err
				}
				prm.ds[name] = ds
			default:
				text, err := readText(tk)
				if err != nil {
					return nil, false, malformed(err)
				}
				prm.text[name] = strings.TrimSpace(text)
			}
			rq.ns.pop()
		}
	}
}

// datastoreElement reads <target>/<source> content: the first child's name.
func (rq *request) datastoreElement() (string, error) {
	name := ""
	depth := 0
	for {
		k, err := rq.tk.Next()
		if err != nil {
			return "", malformed(err)
		}
		switch k {
		case xmltok.StartElement:
			if depth == 0 && name == "" {
				name = string(rq.tk.Local())
			}
			depth++
		case xmltok.EndElement:
			if depth == 0 {
				if name == "" {
					return "", &RPCError{Type: "protocol", Tag: "missing-element", Severity: "error", Message: "no datastore named"}
				}
				return name, nil
			}
			depth--
		}
	}
}

func (rq *request) filter() (*FilterSpec, error) {
	tk := rq.tk
	f := &FilterSpec{Type: attr(tk, "type")}
	if f.Type == "" {
		f.Type = "subtree"
	}
	switch f.Type {
	case "subtree":
		var b bytes.Buffer
		if err := writeChildren(&b, tk, &rq.ns); err != nil {
			return nil, malformed(err)
		}
		f.Content = b.Bytes()
	case "xpath":
		f.Select = attr(tk, "select")
		f.NS = rq.ns.snapshot()
		if err := skip(tk); err != nil {
			return nil, malformed(err)
		}
	default:
		return nil, &RPCError{Type: "protocol", Tag: "bad-attribute", Severity: "error", Message: fmt.Sprintf("filter type %q", f.Type), Info: map[string]string{"bad-attribute": "type", "bad-element": "filter"}}
	}
	return f, nil
}

// finish consumes the rest of the <rpc> element.
func (rq *request) finish() error {
	for {
		k, err := rq.tk.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return malformed(err)
		}
		if k == xmltok.StartElement {
			if err := skip(rq.tk); err != nil {
				return malformed(err)
			}
		}
	}
}

// skipRest drops the rest of the message (after an error reply decision).
func (rq *request) skipRest() { rq.finish() }

func (ss *serverSession) replyOK(attrs []byte, err error) error {
	if err != nil {
		return ss.replyErr(attrs, err)
	}
	return ss.write(attrs, func(w io.Writer) error { _, err := io.WriteString(w, "<ok/>"); return err })
}

func (ss *serverSession) replyErr(attrs []byte, err error) error {
	var errs []*RPCError
	var re *RPCError
	var res RPCErrors
	switch {
	case errors.As(err, &res):
		errs = res
	case errors.As(err, &re):
		errs = []*RPCError{re}
	default:
		errs = []*RPCError{{Type: "application", Tag: "operation-failed", Severity: "error", Message: err.Error()}}
	}
	return ss.write(attrs, func(w io.Writer) error {
		for _, e := range errs {
			if err := writeRPCError(w, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (ss *serverSession) write(attrs []byte, body func(w io.Writer) error) error {
	w := ss.fw.NewMessage()
	io.WriteString(w, `<rpc-reply xmlns="`+BaseNS+`"`)
	w.Write(attrs)
	io.WriteString(w, `>`)
	if err := body(w); err != nil {
		return err
	}
	io.WriteString(w, `</rpc-reply>`)
	return w.Close()
}

// replyData streams a <data> reply; see Backend for the error rules.
func (ss *serverSession) replyData(attrs []byte, fill func(w io.Writer) error) error {
	m := ss.fw.NewMessage()
	lw := &lazyData{w: m, head: append(append([]byte(`<rpc-reply xmlns="`+BaseNS+`"`), attrs...), []byte(`><data>`)...)}
	if err := fill(lw); err != nil {
		if lw.started {
			return fmt.Errorf("reply failed after data was sent: %w", err)
		}
		var errs bytes.Buffer
		ss.writeErrsTo(&errs, err)
		io.WriteString(m, `<rpc-reply xmlns="`+BaseNS+`"`)
		m.Write(attrs)
		io.WriteString(m, `>`)
		m.Write(errs.Bytes())
		io.WriteString(m, `</rpc-reply>`)
		return m.Close()
	}
	if !lw.started {
		io.WriteString(m, `<rpc-reply xmlns="`+BaseNS+`"`)
		m.Write(attrs)
		io.WriteString(m, `><data/></rpc-reply>`)
		return m.Close()
	}
	io.WriteString(m, `</data></rpc-reply>`)
	return m.Close()
}

func (ss *serverSession) writeErrsTo(w io.Writer, err error) {
	var res RPCErrors
	var re *RPCError
	switch {
	case errors.As(err, &res):
		for _, e := range res {
			writeRPCError(w, e)
		}
	case errors.As(err, &re):
		writeRPCError(w, re)
	default:
		writeRPCError(w, &RPCError{Type: "application", Tag: "operation-failed", Severity: "error", Message: err.Error()})
	}
}

type lazyData struct {
	w       io.Writer
	head    []byte
	started bool
}

func (l *lazyData) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		if _, err := l.w.Write(l.head); err != nil {
			return 0, err
		}
	}
	return l.w.Write(p)
}

func writeRPCError(w io.Writer, e *RPCError) error {
	var b bytes.Buffer
	// The error-path is evaluated with the namespace declarations in scope
	// on <rpc-error> (RFC 6241 4.3): declare its prefixes there.
	b.WriteString("<rpc-error")
	prefixes := make([]string, 0, len(e.PathNS))
	for p := range e.PathNS {
		prefixes = append(prefixes, p)
	}
	sortStrings(prefixes)
	for _, p := range prefixes {
		b.WriteString(" xmlns:" + p + `="`)
		xml.EscapeText(&b, []byte(e.PathNS[p]))
		b.WriteByte('"')
	}
	b.WriteByte('>')
	el := func(name, v string) {
		if v == "" {
			return
		}
		b.WriteString("<" + name + ">")
		xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + name + ">")
	}
	sev := e.Severity
	if sev == "" {
		sev = "error"
	}
	el("error-type", e.Type)
	el("error-tag", e.Tag)
	el("error-severity", sev)
	el("error-app-tag", e.AppTag)
	el("error-path", e.Path)
	if e.Message != "" {
		b.WriteString(`<error-message xml:lang="en">`)
		xml.EscapeText(&b, []byte(e.Message))
		b.WriteString("</error-message>")
	}
	if len(e.Info) > 0 || e.InfoXML != "" {
		b.WriteString("<error-info>")
		if e.InfoXML != "" {
			b.WriteString(e.InfoXML)
		} else {
			keys := make([]string, 0, len(e.Info))
			for k := range e.Info {
				keys = append(keys, k)
			}
			sortStrings(keys)
			for _, k := range keys {
				el(k, e.Info[k])
			}
		}
		b.WriteString("</error-info>")
	}
	b.WriteString("</rpc-error>")
	_, err := w.Write(b.Bytes())
	return err
}
