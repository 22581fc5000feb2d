package gnmiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Get implements gpb.GNMIServer.
func (s *Server) Get(ctx context.Context, req *gpb.GetRequest) (*gpb.GetResponse, error) {
	enc := req.GetEncoding()
	if enc != gpb.Encoding_JSON_IETF && enc != gpb.Encoding_JSON {
		return nil, status.Errorf(codes.Unimplemented, "encoding %v is not supported (JSON_IETF, JSON)", enc)
	}
	dt := req.GetType()
	switch dt {
	case gpb.GetRequest_ALL, gpb.GetRequest_CONFIG, gpb.GetRequest_STATE:
	default:
		return nil, status.Errorf(codes.Unimplemented, "data type %v is not supported", dt)
	}
	// Check every path before reading the tree.
	paths := req.GetPath()
	if len(paths) == 0 {
		paths = []*gpb.Path{{}}
	}
	type resolved struct {
		path  *gpb.Path
		entry *yang.Entry
	}
	rs := make([]resolved, 0, len(paths))
	for _, p := range paths {
		full, entry, err := s.resolve(req.GetPrefix(), p)
		if err != nil {
			return nil, err
		}
		rs = append(rs, resolved{full, entry})
	}
	root, err := s.src.Current(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "reading the current tree: %v", err)
	}
	ts := time.Now().UnixNano()
	resp := &gpb.GetResponse{}
	for _, r := range rs {
		var nodes []*ytypes.TreeNode
		if len(r.path.Elem) == 0 {
			nodes = []*ytypes.TreeNode{{Schema: s.schema.RootSchema(), Data: root, Path: &gpb.Path{}}}
		} else {
			nodes, err = ytypes.GetNode(s.schema.RootSchema(), root, r.path,
				&ytypes.GetPartialKeyMatch{}, &ytypes.GetHandleWildcards{})
			if err != nil {
				if status.Code(err) == codes.NotFound {
					return nil, status.Errorf(codes.NotFound, "%s: no data", pathString(r.path))
				}
				return nil, status.Errorf(codes.InvalidArgument, "%s: %v", pathString(r.path), err)
			}
		}
		n := &gpb.Notification{Timestamp: ts}
		if t := req.GetPrefix().GetTarget(); t != "" {
			n.Prefix = &gpb.Path{Target: t}
		}
		for _, node := range nodes {
			if node == nil || util.IsValueNil(node.Data) {
				continue
			}
			val, ok, err := s.encodeNode(root, node, enc, dt)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "%s: %v", pathString(node.Path), err)
			}
			if ok {
				n.Update = append(n.Update, &gpb.Update{Path: node.Path, Val: val})
			}
		}
		if len(n.Update) == 0 {
			return nil, status.Errorf(codes.NotFound, "%s: no %s data", pathString(r.path), strings.ToLower(dt.String()))
		}
		resp.Notification = append(resp.Notification, n)
	}
	return resp, nil
}

// jsonConfig is the RFC 7951 configuration of an encoding.
func jsonConfig(enc gpb.Encoding) *ygot.RFC7951JSONConfig {
	return &ygot.RFC7951JSONConfig{AppendModuleName: enc == gpb.Encoding_JSON_IETF}
}

// typedJSON wraps JSON text in the TypedValue of enc.
func typedJSON(b []byte, enc gpb.Encoding) *gpb.TypedValue {
	if enc == gpb.Encoding_JSON {
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: b}}
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: b}}
}

// encodeNode encodes one node found by GetNode; ok is false when the data
// type filter leaves nothing of it.
func (s *Server) encodeNode(root ygot.GoStruct, node *ytypes.TreeNode, enc gpb.Encoding, dt gpb.GetRequest_DataType) (*gpb.TypedValue, bool, error) {
	e := node.Schema
	wantConfig := dt == gpb.GetRequest_CONFIG
	if e.IsLeaf() || e.IsLeafList() {
		if dt != gpb.GetRequest_ALL && isConfig(e) != wantConfig {
			return nil, false, nil
		}
		v, err := s.leafJSON(root, node, enc)
		if err != nil {
			return nil, false, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, false, err
		}
		return typedJSON(b, enc), true, nil
	}
	gs, ok := node.Data.(ygot.GoStruct)
	if !ok {
		return nil, false, fmt.Errorf("node of type %T is not a GoStruct", node.Data)
	}
	if dt == gpb.GetRequest_CONFIG && !isConfig(e) {
		return nil, false, nil
	}
	m, err := ygot.ConstructIETFJSON(gs, jsonConfig(enc))
	if err != nil {
		return nil, false, err
	}
	if dt != gpb.GetRequest_ALL {
		if e.IsList() {
			m = filterListEntry(m, e, wantConfig)
		} else {
			m = filterJSON(m, e, wantConfig)
		}
		if len(m) == 0 {
			return nil, false, nil
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, false, err
	}
	return typedJSON(b, enc), true, nil
}

// leafJSON returns the RFC 7951 JSON value of a leaf or leaf-list, taken
// from the encoding of its parent, so that every type (identityref with its
// module, 64-bit integers as strings, unions, empty, decimal64) is encoded
// as ygot encodes it in containers.
func (s *Server) leafJSON(root ygot.GoStruct, node *ytypes.TreeNode, enc gpb.Encoding) (any, error) {
	elems := node.Path.GetElem()
	if len(elems) == 0 {
		return nil, fmt.Errorf("leaf with empty path")
	}
	parent := &gpb.Path{Elem: elems[:len(elems)-1]}
	var pgs ygot.GoStruct = root
	if len(parent.Elem) > 0 {
		pn, err := ytypes.GetNode(s.schema.RootSchema(), root, parent)
		if err != nil || len(pn) != 1 {
			return nil, fmt.Errorf("parent of leaf: %v (%d nodes)", err, len(pn))
		}
		var ok bool
		if pgs, ok = pn[0].Data.(ygot.GoStruct); !ok {
			return nil, fmt.Errorf("parent of leaf is %T", pn[0].Data)
		}
	}
	m, err := ygot.ConstructIETFJSON(pgs, jsonConfig(enc))
	if err != nil {
		return nil, err
	}
	name := node.Schema.Name
	for k, v := range m {
		if k == name || strings.HasSuffix(k, ":"+name) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("leaf %q not in its parent's encoding", name)
}

// Set implements gpb.GNMIServer.
func (s *Server) Set(ctx context.Context, req *gpb.SetRequest) (*gpb.SetResponse, error) {
	if len(req.GetExtension()) > 0 {
		return nil, status.Errorf(codes.Unimplemented, "set extensions are not supported")
	}
	// Normalise and check every path: one request with full paths, no prefix.
	nreq := &gpb.SetRequest{}
	var results []*gpb.UpdateResult
	for _, d := range req.GetDelete() {
		full, entry, err := s.resolveSet(req.GetPrefix(), d)
		if err != nil {
			return nil, err
		}
		_ = entry
		nreq.Delete = append(nreq.Delete, full)
		results = append(results, &gpb.UpdateResult{Path: d, Op: gpb.UpdateResult_DELETE})
	}
	for _, group := range []struct {
		in  []*gpb.Update
		out *[]*gpb.Update
		op  gpb.UpdateResult_Operation
	}{
		{req.GetReplace(), &nreq.Replace, gpb.UpdateResult_REPLACE},
		{req.GetUpdate(), &nreq.Update, gpb.UpdateResult_UPDATE},
	} {
		for _, u := range group.in {
			full, _, err := s.resolveSet(req.GetPrefix(), u.GetPath())
			if err != nil {
				return nil, err
			}
			if err := checkSetValue(u.GetVal()); err != nil {
				return nil, err
			}
			*group.out = append(*group.out, &gpb.Update{Path: full, Val: u.GetVal()})
			results = append(results, &gpb.UpdateResult{Path: u.GetPath(), Op: group.op})
		}
	}
	if len(req.GetUnionReplace()) > 0 {
		return nil, status.Errorf(codes.Unimplemented, "union_replace is not supported")
	}

	s.setMu.Lock()
	defer s.setMu.Unlock()
	cur, err := s.src.Current(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "reading the current tree: %v", err)
	}
	cp, err := ygot.DeepCopy(cur)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "copying the current tree: %v", err)
	}
	candidate, ok := cp.(ygot.ValidatedGoStruct)
	if !ok {
		return nil, status.Errorf(codes.Internal, "tree of type %T cannot be validated", cp)
	}
	sch := &ytypes.Schema{Root: candidate, SchemaTree: s.schema.SchemaTree, Unmarshal: s.schema.Unmarshal}
	if err := ytypes.UnmarshalSetRequest(sch, nreq); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "applying the set request: %v", err)
	}
	if err := candidate.Validate(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the resulting configuration is invalid: %v", err)
	}
	if err := s.src.Replace(ctx, candidate); err != nil {
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
			return nil, err
		}
		return nil, status.Errorf(codes.Aborted, "the configuration was not committed: %v", err)
	}
	s.log.Info("gnmi set committed", "deletes", len(nreq.Delete), "replaces", len(nreq.Replace), "updates", len(nreq.Update))
	var prefix *gpb.Path
	if req.GetPrefix() != nil {
		prefix = proto.Clone(req.GetPrefix()).(*gpb.Path)
	}
	return &gpb.SetResponse{Prefix: prefix, Response: results, Timestamp: time.Now().UnixNano()}, nil
}

// resolveSet resolves a Set path: it must be concrete and configuration.
func (s *Server) resolveSet(prefix, p *gpb.Path) (*gpb.Path, *yang.Entry, error) {
	full, entry, err := s.resolve(prefix, p)
	if err != nil {
		return nil, nil, err
	}
	if entry == nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s: wildcards are not allowed in set", pathString(full))
	}
	if len(full.Elem) == 0 {
		return nil, nil, status.Errorf(codes.InvalidArgument, "set of the root is not supported; name a top-level node")
	}
	if !isConfig(entry) {
		return nil, nil, status.Errorf(codes.InvalidArgument, "%s is state (config false) and cannot be set", pathString(full))
	}
	for _, e := range full.Elem {
		for k, v := range e.Key {
			if v == "*" {
				return nil, nil, status.Errorf(codes.InvalidArgument, "%s: wildcard key %q in set", pathString(full), k)
			}
		}
	}
	return full, entry, nil
}

// checkSetValue rejects values Set does not decode.
func checkSetValue(v *gpb.TypedValue) error {
	switch v.GetValue().(type) {
	case nil:
		return status.Errorf(codes.InvalidArgument, "update without a value")
	case *gpb.TypedValue_AnyVal, *gpb.TypedValue_ProtoBytes, *gpb.TypedValue_AsciiVal:
		return status.Errorf(codes.Unimplemented, "value encoding %T is not supported (use json_ietf_val or scalars)", v.GetValue())
	}
	return nil
}

// Subscribe implements gpb.GNMIServer with the openconfig/gnmi subscribe
// package over the cache.
func (s *Server) Subscribe(stream gpb.GNMI_SubscribeServer) error {
	if err := s.useFeed(stream.Context()); err != nil {
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
			return err
		}
		return status.Errorf(codes.Unavailable, "reading the source: %v", err)
	}
	defer s.releaseFeed()
	s.subs.Add(1)
	defer s.subs.Add(-1)
	return s.sub.Subscribe(&subStream{GNMI_SubscribeServer: stream, s: s})
}

// subStream normalises the first SubscribeRequest: the target defaults to
// the server's, model origins and module-prefixed names are stripped, and
// paths outside the schema are rejected.
type subStream struct {
	gpb.GNMI_SubscribeServer
	s    *Server
	seen bool
}

func (st *subStream) Recv() (*gpb.SubscribeRequest, error) {
	req, err := st.GNMI_SubscribeServer.Recv()
	if err != nil || st.seen {
		return req, err
	}
	st.seen = true
	sl := req.GetSubscribe()
	if sl == nil {
		return req, nil
	}
	req = proto.Clone(req).(*gpb.SubscribeRequest)
	sl = req.GetSubscribe()
	if sl.Prefix == nil {
		sl.Prefix = &gpb.Path{}
	}
	target := sl.Prefix.Target
	if target == "" {
		target = st.s.target
	}
	// Subscriptions get full paths and the prefix keeps only the target;
	// the cache's notifications carry full paths anyway.
	pfx := &gpb.Path{Origin: sl.Prefix.Origin, Elem: sl.Prefix.Elem}
	for _, sub := range sl.Subscription {
		p, _, err := st.s.resolve(pfx, sub.GetPath())
		if err != nil {
			return nil, err
		}
		sub.Path = p
	}
	sl.Prefix = &gpb.Path{Target: target}
	return req, nil
}
