package netconf

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Datastore names a configuration datastore.
type Datastore string

// The standard datastores.
const (
	Running   Datastore = "running"
	Candidate Datastore = "candidate"
	Startup   Datastore = "startup"
)

func (d Datastore) xml() string { return "<" + string(d) + "/>" }

// Filter selects what <get> and <get-config> return.
type Filter interface{ writeFilter(w io.Writer) error }

type subtreeFilter string

func (f subtreeFilter) writeFilter(w io.Writer) error {
	_, err := io.WriteString(w, `<filter type="subtree">`+string(f)+`</filter>`)
	return err
}

// Subtree is a subtree filter (RFC 6241 6): the XML of the selection,
// e.g. `<flow-state xmlns="urn:sami:..."><sessions/></flow-state>`.
func Subtree(xmlText string) Filter { return subtreeFilter(xmlText) }

type xpathFilter struct {
	expr string
	ns   map[string]string
}

func (f xpathFilter) writeFilter(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`<filter type="xpath"`)
	prefixes := make([]string, 0, len(f.ns))
	for p := range f.ns {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		fmt.Fprintf(&b, ` xmlns:%s="%s"`, p, escapeAttr(f.ns[p]))
	}
	fmt.Fprintf(&b, ` select="%s"/>`, escapeAttr(f.expr))
	_, err := io.WriteString(w, b.String())
	return err
}

// XPath is an XPath filter (:xpath capability) with the prefixes it uses.
func XPath(expr string, ns map[string]string) Filter { return xpathFilter{expr, ns} }

func escapeAttr(s string) string {
	r := strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `"`, "&quot;", "\n", "&#xA;", "\t", "&#x9;", "\r", "&#xD;")
	return r.Replace(s)
}

func (s *Session) ok(ctx context.Context, body string) error {
	_, err := s.Call(ctx, OpFunc(func(w io.Writer) error {
		_, err := io.WriteString(w, body)
		return err
	}))
	return err
}

// Get runs <get> (state and configuration). filter may be nil.
func (s *Session) Get(ctx context.Context, filter Filter, opts ...CallOption) (*Reply, error) {
	return s.Call(ctx, OpFunc(func(w io.Writer) error {
		io.WriteString(w, "<get>")
		if filter != nil {
			if err := filter.writeFilter(w); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "</get>")
		return err
	}), opts...)
}

// GetConfig runs <get-config> on source. filter may be nil.
func (s *Session) GetConfig(ctx context.Context, source Datastore, filter Filter, opts ...CallOption) (*Reply, error) {
	return s.Call(ctx, OpFunc(func(w io.Writer) error {
		io.WriteString(w, "<get-config><source>"+source.xml()+"</source>")
		if filter != nil {
			if err := filter.writeFilter(w); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "</get-config>")
		return err
	}), opts...)
}

// Config is the content of an <edit-config> or <copy-config>: it writes
// the <config> element (e.g. yangxml's Encode with Wrapper("config")).
type Config interface{ WriteConfig(w io.Writer) error }

// ConfigFunc adapts a function to Config.
type ConfigFunc func(w io.Writer) error

// WriteConfig implements Config.
func (f ConfigFunc) WriteConfig(w io.Writer) error { return f(w) }

// ConfigXML is a literal <config> element.
type ConfigXML string

// WriteConfig implements Config.
func (c ConfigXML) WriteConfig(w io.Writer) error { _, err := io.WriteString(w, string(c)); return err }

// EditOption configures an edit-config.
type EditOption func(*editOpts)

type editOpts struct{ defOp, test, errOpt string }

// DefaultOperation sets <default-operation> (merge, replace, none).
func DefaultOperation(op string) EditOption { return func(o *editOpts) { o.defOp = op } }

// TestOption sets <test-option> (test-then-set, set, test-only; :validate).
func TestOption(opt string) EditOption { return func(o *editOpts) { o.test = opt } }

// ErrorOption sets <error-option> (stop-on-error, continue-on-error,
// rollback-on-error).
func ErrorOption(opt string) EditOption { return func(o *editOpts) { o.errOpt = opt } }

// EditConfig runs <edit-config> on target with config (a <config> element).
func (s *Session) EditConfig(ctx context.Context, target Datastore, config Config, opts ...EditOption) error {
	var o editOpts
	for _, f := range opts {
		f(&o)
	}
	_, err := s.Call(ctx, OpFunc(func(w io.Writer) error {
		io.WriteString(w, "<edit-config><target>"+target.xml()+"</target>")
		if o.defOp != "" {
			io.WriteString(w, "<default-operation>"+o.defOp+"</default-operation>")
		}
		if o.test != "" {
			io.WriteString(w, "<test-option>"+o.test+"</test-option>")
		}
		if o.errOpt != "" {
			io.WriteString(w, "<error-option>"+o.errOpt+"</error-option>")
		}
		if err := config.WriteConfig(w); err != nil {
			return err
		}
		_, err := io.WriteString(w, "</edit-config>")
		return err
	}))
	return err
}

// CopyConfig copies source (a datastore) onto target.
func (s *Session) CopyConfig(ctx context.Context, target, source Datastore) error {
	return s.ok(ctx, "<copy-config><target>"+target.xml()+"</target><source>"+source.xml()+"</source></copy-config>")
}

// CopyConfigFrom replaces target with an inline configuration.
func (s *Session) CopyConfigFrom(ctx context.Context, target Datastore, config Config) error {
	_, err := s.Call(ctx, OpFunc(func(w io.Writer) error {
		io.WriteString(w, "<copy-config><target>"+target.xml()+"</target><source>")
		if err := config.WriteConfig(w); err != nil {
			return err
		}
		_, err := io.WriteString(w, "</source></copy-config>")
		return err
	}))
	return err
}

// DeleteConfig deletes target (never running).
func (s *Session) DeleteConfig(ctx context.Context, target Datastore) error {
	return s.ok(ctx, "<delete-config><target>"+target.xml()+"</target></delete-config>")
}

// Lock locks target (RFC 6241 7.5).
func (s *Session) Lock(ctx context.Context, target Datastore) error {
	return s.ok(ctx, "<lock><target>"+target.xml()+"</target></lock>")
}

// Unlock releases a lock.
func (s *Session) Unlock(ctx context.Context, target Datastore) error {
	return s.ok(ctx, "<unlock><target>"+target.xml()+"</target></unlock>")
}

// DiscardChanges resets the candidate to running.
func (s *Session) DiscardChanges(ctx context.Context) error {
	return s.ok(ctx, "<discard-changes/>")
}

// Validate validates a datastore (:validate). Beware yuma123: validating
// the candidate drops its pending edits (see docs/netconf.md).
func (s *Session) Validate(ctx context.Context, source Datastore) error {
	return s.ok(ctx, "<validate><source>"+source.xml()+"</source></validate>")
}

// CommitOption configures a commit.
type CommitOption func(*commitOpts)

type commitOpts struct {
	confirmed bool
	timeout   time.Duration
	persist   string
	persistID string
}

// Confirmed makes the commit a confirmed commit: it is rolled back unless
// confirmed within the timeout (default 600 s).
func Confirmed() CommitOption { return func(o *commitOpts) { o.confirmed = true } }

// ConfirmTimeout sets the confirm-timeout (whole seconds) and implies Confirmed.
func ConfirmTimeout(d time.Duration) CommitOption {
	return func(o *commitOpts) { o.confirmed = true; o.timeout = d }
}

// Persist makes a confirmed commit survive the session; confirm or cancel it
// later, from any session, with PersistID(id) (:confirmed-commit:1.1).
func Persist(id string) CommitOption {
	return func(o *commitOpts) { o.confirmed = true; o.persist = id }
}

// PersistID confirms (or extends, with Confirmed) a persistent confirmed commit.
func PersistID(id string) CommitOption { return func(o *commitOpts) { o.persistID = id } }

// Commit commits the candidate to running.
func (s *Session) Commit(ctx context.Context, opts ...CommitOption) error {
	var o commitOpts
	for _, f := range opts {
		f(&o)
	}
	if (o.persist != "" || o.persistID != "") && !s.caps.ConfirmedCommit11() {
		return fmt.Errorf("%w: persist and persist-id need :confirmed-commit:1.1", ErrCapability)
	}
	if o.confirmed && !s.caps.Has(CapConfirmedCommit) && !s.caps.ConfirmedCommit11() {
		return fmt.Errorf("%w: :confirmed-commit", ErrCapability)
	}
	var b strings.Builder
	b.WriteString("<commit>")
	if o.confirmed {
		b.WriteString("<confirmed/>")
		if o.timeout > 0 {
			secs := int64((o.timeout + time.Second - 1) / time.Second)
			b.WriteString("<confirm-timeout>" + strconv.FormatInt(secs, 10) + "</confirm-timeout>")
		}
		if o.persist != "" {
			b.WriteString("<persist>" + escapeAttr(o.persist) + "</persist>")
		}
	}
	if o.persistID != "" {
		b.WriteString("<persist-id>" + escapeAttr(o.persistID) + "</persist-id>")
	}
	b.WriteString("</commit>")
	return s.ok(ctx, b.String())
}

// CancelCommit cancels a pending confirmed commit; persistID is required
// for a persistent one issued by another session.
func (s *Session) CancelCommit(ctx context.Context, persistID string) error {
	if persistID == "" {
		return s.ok(ctx, "<cancel-commit/>")
	}
	return s.ok(ctx, "<cancel-commit><persist-id>"+escapeAttr(persistID)+"</persist-id></cancel-commit>")
}

// KillSession ends another session (RFC 6241 7.9).
func (s *Session) KillSession(ctx context.Context, id uint64) error {
	return s.ok(ctx, "<kill-session><session-id>"+strconv.FormatUint(id, 10)+"</session-id></kill-session>")
}

// CloseSession asks the server to end this session gracefully, then closes
// the transport.
func (s *Session) CloseSession(ctx context.Context) error {
	err := s.ok(ctx, "<close-session/>")
	s.fail(ErrClosed)
	return err
}
