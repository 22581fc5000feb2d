package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// ErrTokens: a tokens file is malformed; the *TokenError says where.
var ErrTokens = errors.New("api: invalid tokens file")

// Scope is what an identity may do.
type Scope uint8

const (
	// ScopeRead: GET the migrations, their events, the devices, /metrics.
	ScopeRead Scope = 1 << iota
	// ScopeTrigger: POST /v1/migrations.
	ScopeTrigger
	// ScopeAll is every scope (a token line without scopes).
	ScopeAll = ScopeRead | ScopeTrigger
)

func (s Scope) String() string {
	var parts []string
	if s&ScopeRead != 0 {
		parts = append(parts, "read")
	}
	if s&ScopeTrigger != 0 {
		parts = append(parts, "trigger")
	}
	return strings.Join(parts, ",")
}

// MinTokenLen is the shortest token a tokens file may hold: bearer tokens
// are secrets, a short one is guessable.
const MinTokenLen = 16

// TokenError locates a problem in a tokens file. It never quotes the token.
type TokenError struct {
	File string // empty for an unnamed reader
	Line int
	Msg  string
}

func (e *TokenError) Error() string {
	f := e.File
	if f == "" {
		f = "tokens"
	}
	return fmt.Sprintf("%s:%d: %s", f, e.Line, e.Msg)
}

func (e *TokenError) Unwrap() error { return ErrTokens }

type tokenEntry struct {
	name  string
	sum   [sha256.Size]byte
	scope Scope
}

// Tokens are the bearer tokens the API accepts; each token's name becomes
// the requester of the migrations it triggers. Only digests are kept.
type Tokens struct {
	entries []tokenEntry
}

// ParseTokens reads a tokens file: one "name:token" per line, optionally
// ":read" or ":read,trigger" after the token to restrict it (the default is
// every scope); blank lines and lines starting with # are ignored. Names
// and tokens must be unique; a token has at least MinTokenLen characters
// and no ':' or blanks. Errors name the line, never the token.
func ParseTokens(r io.Reader) (*Tokens, error) { return parseTokens(r, "") }

// LoadTokens reads the tokens file at path. A file that others may read is
// refused: it holds secrets.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokens, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokens, err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%w: %s is accessible to every user (mode %v): chmod o-rwx it", ErrTokens, path, st.Mode().Perm())
	}
	return parseTokens(f, path)
}

func parseTokens(r io.Reader, file string) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]int{}
	sums := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var errs []error
	line := 0
	bad := func(format string, args ...any) {
		errs = append(errs, &TokenError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, ":")
		if len(parts) < 2 || len(parts) > 3 {
			bad("want name:token or name:token:scopes, got %d field(s) separated by ':'", len(parts))
			continue
		}
		name, tok := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		if err := validTokenName(name); err != nil {
			bad("name: %v", err)
			continue
		}
		if len(tok) < MinTokenLen {
			bad("token of %q is %d characters long: use at least %d (e.g. openssl rand -hex 32)", name, len(tok), MinTokenLen)
			continue
		}
		if strings.ContainsFunc(tok, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
			bad("token of %q holds blanks or control characters", name)
			continue
		}
		scope := ScopeAll
		if len(parts) == 3 {
			s, err := parseScopes(parts[2])
			if err != nil {
				bad("scopes of %q: %v", name, err)
				continue
			}
			scope = s
		}
		if prev, ok := names[name]; ok {
			bad("name %q already used on line %d", name, prev)
			continue
		}
		sum := sha256.Sum256([]byte(tok))
		if prev, ok := sums[sum]; ok {
			bad("the token of %q is the one on line %d: every name needs its own token", name, prev)
			continue
		}
		names[name], sums[sum] = line, line
		t.entries = append(t.entries, tokenEntry{name: name, sum: sum, scope: scope})
	}
	if err := sc.Err(); err != nil {
		line++
		bad("%v", err)
	}
	if len(errs) == 0 && len(t.entries) == 0 {
		return nil, fmt.Errorf("%w: %s has no tokens (an empty file would lock everyone out)", ErrTokens, orDefault(file, "the tokens file"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func validTokenName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 64 {
		return fmt.Errorf("%d characters long (at most 64)", len(s))
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@", c)
		if !ok {
			return fmt.Errorf("%q holds %q (letters, digits, '.', '_', '-', '@')", s, c)
		}
	}
	return nil
}

func parseScopes(s string) (Scope, error) {
	var sc Scope
	for p := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(p) {
		case "read":
			sc |= ScopeRead
		case "trigger":
			sc |= ScopeTrigger
		case "all", "*":
			sc |= ScopeAll
		default:
			return 0, fmt.Errorf("unknown scope %q (read, trigger, all)", strings.TrimSpace(p))
		}
	}
	return sc, nil
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Names lists the tokens' names, in file order.
func (t *Tokens) Names() []string {
	out := make([]string, len(t.entries))
	for i, e := range t.entries {
		out[i] = e.name
	}
	return out
}

// Lookup returns the name and scope of a token. Every stored digest is
// compared, in constant time, so the answer's timing says nothing about
// which token (or how much of one) matched.
func (t *Tokens) Lookup(token string) (name string, scope Scope, ok bool) {
	sum := sha256.Sum256([]byte(token))
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			name, scope, ok = e.name, e.scope, true
		}
	}
	return name, scope, ok
}

// Identity is who made a request.
type Identity struct {
	Name   string // the requester: the token's name or the client certificate's CN
	Method string // "token", "mtls" or "none" (no authentication configured)
	Scope  Scope
}

type identityKey struct{}

// IdentityFrom returns the identity the API authenticated for a request
// (for handlers wrapped around the API's).
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// authenticate finds who is calling. A problem is 401 (no or wrong
// credentials) or 403 (a verified certificate this API does not accept).
func (s *Server) authenticate(r *http.Request) (Identity, *Problem) {
	if s.tokens == nil && !s.mtls {
		return Identity{Name: "anonymous", Method: "none", Scope: ScopeAll}, nil
	}
	if h := r.Header.Get("Authorization"); h != "" && s.tokens != nil {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Identity{}, newProblem(http.StatusUnauthorized, ProblemUnauthorized, "the Authorization header must be \"Bearer <token>\"")
		}
		name, scope, ok := s.tokens.Lookup(strings.TrimSpace(tok))
		if !ok {
			return Identity{}, newProblem(http.StatusUnauthorized, ProblemUnauthorized, "the bearer token is not valid")
		}
		return Identity{Name: name, Method: "token", Scope: scope}, nil
	}
	if s.mtls && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
		if cn == "" {
			return Identity{}, newProblem(http.StatusForbidden, ProblemForbidden, "the client certificate has no common name (the CN names the requester)")
		}
		if len(s.allowedCNs) > 0 && !slices.Contains(s.allowedCNs, cn) {
			return Identity{}, newProblem(http.StatusForbidden, ProblemForbidden, fmt.Sprintf("client certificate %q is not among the allowed clients", cn))
		}
		return Identity{Name: cn, Method: "mtls", Scope: ScopeAll}, nil
	}
	var want []string
	if s.tokens != nil {
		want = append(want, "a bearer token (Authorization: Bearer <token>)")
	}
	if s.mtls {
		want = append(want, "a client certificate signed by the client CA")
	}
	return Identity{}, newProblem(http.StatusUnauthorized, ProblemUnauthorized, "authentication required: "+strings.Join(want, " or "))
}

// guard wraps a handler with authentication and a scope check.
func (s *Server) guard(scope Scope, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, p := s.authenticate(r)
		if p != nil {
			if p.Status == http.StatusUnauthorized && s.tokens != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sami"`)
			}
			// The header's value is never logged: it may be a token.
			s.log.Warn("api: request refused", "status", p.Status, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", p.Detail)
			writeProblem(w, r, p)
			return
		}
		if id.Scope&scope != scope {
			s.log.Warn("api: request refused", "status", http.StatusForbidden, "method", r.Method, "path", r.URL.Path, "requester", id.Name, "has", id.Scope.String(), "needs", scope.String())
			writeProblem(w, r, newProblem(http.StatusForbidden, ProblemForbidden, fmt.Sprintf("%s may %s, not %s", id.Name, id.Scope, scope)))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
}
