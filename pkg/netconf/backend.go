package netconf

import (
	"context"
	"io"
	"time"

	"github.com/sami-netops/sami/pkg/xmltok"
)

// Permission is what an authenticated user may do.
type Permission int

// Permissions: read-only users may get, get-config and close their
// session; read-write users may do everything.
const (
	ReadOnly Permission = iota + 1
	ReadWrite
)

func (p Permission) String() string {
	switch p {
	case ReadOnly:
		return "read-only"
	case ReadWrite:
		return "read-write"
	}
	return "none"
}

// Peer identifies the client of a server session.
type Peer struct {
	SessionID uint64
	User      string
	Perm      Permission
	Addr      string
}

// FilterSpec is the <filter> of a get or get-config: Type "subtree" with
// Content (the filter's children, each carrying the namespace declarations
// in scope), or Type "xpath" with Select and NS.
type FilterSpec struct {
	Type    string
	Content []byte
	Select  string
	NS      map[string]string
}

// EditRequest is an <edit-config>. Config is the tokenizer positioned on
// the <config> start tag (the operation's last parameter, per the RFC 6241
// schema); the backend must consume it up to and including </config>, e.g.
// with yangxml.Codec.DecodeElement, so 100k sessions stream through. NS are
// the namespace declarations in scope.
type EditRequest struct {
	Target           Datastore
	DefaultOperation string // merge (default), replace, none
	TestOption       string // test-then-set (default), set, test-only
	ErrorOption      string // stop-on-error (default), continue-on-error, rollback-on-error
	Config           *xmltok.Tokenizer
	NS               map[string]string
}

// CommitRequest is a <commit>.
type CommitRequest struct {
	Confirmed bool
	Timeout   time.Duration // confirm-timeout; 0 means the default (600 s)
	Persist   string
	PersistID string
}

// Backend is what a Server serves: the datastores. Methods return
// *RPCError (or RPCErrors) for NETCONF errors; any other error is reported
// as operation-failed. Get and GetConfig write the children of <data> to w;
// an error before the first write becomes an rpc-error, after it the
// session is closed (the reply cannot be taken back).
type Backend interface {
	Capabilities() []string
	Get(ctx context.Context, p Peer, f *FilterSpec, w io.Writer) error
	GetConfig(ctx context.Context, p Peer, source Datastore, f *FilterSpec, w io.Writer) error
	EditConfig(ctx context.Context, p Peer, req *EditRequest) error
	CopyConfig(ctx context.Context, p Peer, target, source Datastore) error
	DeleteConfig(ctx context.Context, p Peer, target Datastore) error
	Lock(ctx context.Context, p Peer, target Datastore) error
	Unlock(ctx context.Context, p Peer, target Datastore) error
	DiscardChanges(ctx context.Context, p Peer) error
	Validate(ctx context.Context, p Peer, source Datastore) error
	Commit(ctx context.Context, p Peer, req CommitRequest) error
	CancelCommit(ctx context.Context, p Peer, persistID string) error
	// SessionClosed releases what the session held (locks, a pending
	// non-persistent confirmed commit).
	SessionClosed(ctx context.Context, p Peer)
}
