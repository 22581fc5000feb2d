package migrate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/flow"
)

// negotiate reads every reachable device's capabilities and checks what
// does not depend on the sessions: destinations writable with confirmed
// commit, administrative domains (R8).
func (r *run) negotiate(ctx context.Context) error {
	if err := r.step(ctx, PhaseNegotiate, "", nil); err != nil {
		return err
	}
	for _, n := range r.devices() {
		d, ok := r.drivers[n]
		if !ok {
			continue // unplanned: the source is gone
		}
		c, err := d.Capabilities(ctx)
		if err != nil {
			return fmt.Errorf("capabilities of %s: %w", n, err)
		}
		r.caps[n] = c
	}
	for _, n := range slices.Concat(r.req.Destinations, r.req.Eliminate) {
		c := r.caps[n]
		if !c.Writable {
			return fmt.Errorf("%w: %s cannot be written (its driver or the device is read-only)", ErrReadOnly, n)
		}
		if !c.ConfirmedCommit {
			return fmt.Errorf("%w: %s does not support confirmed commit, which sami needs to write without risk", ErrUnsupported, n)
		}
	}
	for _, s := range r.req.Sources {
		for _, d := range r.req.Destinations {
			if s == d {
				continue
			}
			sd, dd := r.domain(s), r.domain(d)
			if sd == dd || slices.Contains(r.req.AllowDomains, DomainRule{From: sd, To: dd}) {
				continue
			}
			return &DomainError{Source: s, SourceDomain: sd, Destination: d, DestinationDomain: dd}
		}
	}
	r.rep.Devices = nil
	for _, n := range r.devices() {
		role := "source"
		switch {
		case contains(r.req.Sources, n) && contains(r.req.Destinations, n):
			role = "source+destination"
		case contains(r.req.Destinations, n):
			role = "destination"
		}
		free := int64(-1)
		if c := r.caps[n]; c != nil {
			if f, known := c.Free(); known {
				free = int64(f)
			}
		}
		r.rep.Devices = append(r.rep.Devices, DeviceReport{Device: n, Role: role, Free: free, Domain: r.domain(n)})
	}
	return nil
}

// domain is a device's administrative domain: the inventory's, else what
// the device reports.
func (r *run) domain(n string) string {
	if d, ok := r.req.Domains[n]; ok {
		return d
	}
	if c := r.caps[n]; c != nil {
		return c.Domain
	}
	return ""
}

// snapshot reads the endpoint's sessions at every source and merges them
// by id: a flow seen by two old-path boxes (asymmetric routing) moves once;
// when their copies differ the first source in name order wins.
func (r *run) snapshot(ctx context.Context) error {
	r.remove = make(map[string][]string)
	r.bySrc = make(map[string][]*flow.Session)
	r.seenAt = make(map[string]time.Time)
	byID := make(map[string]*flow.Session)
	var digests map[string]flow.Digest
	for _, src := range slices.Sorted(slices.Values(r.req.Sources)) {
		if err := r.step(ctx, PhaseSnapshot, src, nil); err != nil {
			return err
		}
		var ids []string
		readAt := time.Now()
		err := r.drivers[src].Read(ctx, r.matcher, func(s *flow.Session) error {
			if err := flow.SetKey(s); err != nil {
				return fmt.Errorf("session from %s: %w", src, err)
			}
			id := s.GetId()
			ids = append(ids, id)
			r.seenAt[id] = readAt
			r.bySrc[src] = append(r.bySrc[src], s)
			if prev, dup := byID[id]; dup {
				if digests == nil {
					digests = make(map[string]flow.Digest)
				}
				a, _ := flow.DigestSessions([]*flow.Session{prev})
				b, _ := flow.DigestSessions([]*flow.Session{s})
				if a != b {
					r.rep.Conflicts++
				}
				return nil
			}
			byID[id] = s
			return nil
		})
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", src, err)
		}
		r.remove[src] = ids
		r.emit(Event{Phase: PhaseSnapshot, Device: src, Done: len(ids), Total: len(ids)})
	}
	r.moving = make([]*flow.Session, 0, len(byID))
	for _, s := range byID {
		r.moving = append(r.moving, s)
	}
	slices.SortFunc(r.moving, func(a, b *flow.Session) int { return cmpStr(a.GetId(), b.GetId()) })
	return nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// transform builds each destination's copy: location renames, data the
// destination cannot hold (refused, stripped or left behind), capacity.
// Everything here happens before anything is written.
func (r *run) transform(ctx context.Context) error {
	if err := r.step(ctx, PhaseTransform, "", nil); err != nil {
		return err
	}
	r.perDest = make(map[string][]*flow.Session)
	r.existing = make(map[string]int)
	r.srcOf = make(map[string]map[string]string)
	left := make(map[string]bool) // source-form ids that stay at the sources
	losses := make(map[[2]string]int)
	for _, dst := range slices.Sorted(slices.Values(r.req.Destinations)) {
		c := r.caps[dst]
		tr := r.req.Transforms[dst]
		missing := make(map[string]int)
		strippable := true
		var out []*flow.Session
		for _, s := range r.feed(dst) {
			cp := s
			if !tr.empty() {
				cp = clone(s)
				if err := tr.apply(cp); err != nil {
					return fmt.Errorf("transform for %s: session %s: %w", dst, s.GetId(), err)
				}
				if cp.GetId() != s.GetId() {
					if r.srcOf[dst] == nil {
						r.srcOf[dst] = make(map[string]string)
					}
					r.srcOf[dst][cp.GetId()] = s.GetId()
				}
			}
			if !c.HasProtocol(cp.GetProtocol()) {
				missing[fmt.Sprintf("protocol %d", cp.GetProtocol())]++
				strippable = false
				if r.req.Partial {
					left[s.GetId()] = true
				}
				continue
			}
			lacks := c.Missing(cp)
			if len(lacks) > 0 {
				if cp == s {
					cp = clone(s)
				}
				ok := r.req.StripUnsupported
				for _, ft := range lacks {
					name := flow.FeatureName(ft)
					missing[name]++
					if !flow.Strip(cp, ft) {
						strippable, ok = false, false
					}
				}
				if !ok {
					if r.req.Partial {
						left[s.GetId()] = true
					}
					continue
				}
				for _, ft := range lacks {
					losses[[2]string{dst, flow.FeatureName(ft)}]++
				}
			}
			out = append(out, cp)
		}
		if len(missing) > 0 && !r.req.Partial && !(r.req.StripUnsupported && strippable) {
			return &FeatureError{Device: dst, Missing: missing, Strippable: strippable}
		}
		// Capacity: sessions the destination holds already take no new slot.
		have, err := r.presentAt(ctx, dst, out)
		if err != nil {
			return err
		}
		r.existing[dst] = len(have)
		if free, known := c.Free(); known {
			need := uint64(len(out) - len(have))
			if need > free {
				if !r.req.Partial {
					return &CapacityError{Device: dst, Need: need, Free: free}
				}
				kept := out[:0:0]
				room := free
				for _, s := range out {
					if have[s.GetId()] || room > 0 {
						if !have[s.GetId()] {
							room--
						}
						kept = append(kept, s)
						continue
					}
					left[s.GetId()] = true
				}
				out = kept
			}
		}
		r.perDest[dst] = out
	}
	// A session left behind at any destination stays at every source, and
	// is not written anywhere (a flow is either moved or not).
	if len(left) > 0 {
		for dst, ss := range r.perDest {
			r.perDest[dst] = slices.DeleteFunc(ss, func(s *flow.Session) bool { return left[r.sourceID(dst, s.GetId())] })
		}
		for src, ids := range r.remove {
			r.remove[src] = slices.DeleteFunc(ids, func(id string) bool { return left[id] })
		}
		r.moving = slices.DeleteFunc(r.moving, func(s *flow.Session) bool { return left[s.GetId()] })
	}
	for k, n := range losses {
		r.rep.Lost = append(r.rep.Lost, Loss{Device: k[0], Feature: k[1], Sessions: n})
	}
	slices.SortFunc(r.rep.Lost, func(a, b Loss) int { return cmpStr(a.Device+a.Feature, b.Device+b.Feature) })
	r.rep.Sessions = len(r.moving)
	r.rep.LeftBehind = len(left)
	d, err := flow.DigestSessions(r.moving)
	if err != nil {
		return err
	}
	r.rep.SourceDigest = digestString(d)
	for i := range r.rep.Devices {
		dr := &r.rep.Devices[i]
		if ss, ok := r.perDest[dr.Device]; ok {
			dr.Sessions = len(ss)
		} else {
			dr.Sessions = len(r.remove[dr.Device])
		}
	}
	return nil
}

// feed is what dst takes: the sessions of its feeders (every source by
// default), merged by id with the first source in name order winning.
func (r *run) feed(dst string) []*flow.Session {
	srcs, ok := r.req.Feeders[dst]
	if !ok {
		return r.moving
	}
	byID := make(map[string]*flow.Session)
	for _, src := range slices.Sorted(slices.Values(srcs)) {
		for _, s := range r.bySrc[src] {
			if _, dup := byID[s.GetId()]; !dup {
				byID[s.GetId()] = s
			}
		}
	}
	out := make([]*flow.Session, 0, len(byID))
	for _, s := range byID {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *flow.Session) int { return cmpStr(a.GetId(), b.GetId()) })
	return out
}

// feeds reports whether src feeds dst.
func (r *run) feeds(src, dst string) bool {
	srcs, ok := r.req.Feeders[dst]
	return !ok || slices.Contains(srcs, src)
}

// presentAt returns which of ss the destination holds already, by id.
func (r *run) presentAt(ctx context.Context, dst string, ss []*flow.Session) (map[string]bool, error) {
	want := make(map[string]bool, len(ss))
	for _, s := range ss {
		want[s.GetId()] = true
	}
	have := make(map[string]bool)
	err := r.drivers[dst].Read(ctx, r.matcher, func(s *flow.Session) error {
		if err := flow.SetKey(s); err == nil && want[s.GetId()] {
			have[s.GetId()] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dst, err)
	}
	return have, nil
}

func clone(s *flow.Session) *flow.Session {
	c, err := ygot.DeepCopy(s)
	if err != nil {
		panic(fmt.Sprintf("migrate: deep copy of a session: %v", err)) // generated structs always copy
	}
	return c.(*flow.Session)
}
