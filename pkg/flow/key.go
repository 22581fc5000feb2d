package flow

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
)

// IANA protocol numbers that change how the key is formed.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// maxKeyLen is the length limit of the session-id typedef.
const maxKeyLen = 255

func hasPorts(proto uint8) bool {
	switch proto {
	case protoTCP, protoUDP, protoSCTP, protoDCCP, protoUDPLite:
		return true
	}
	return false
}

func isICMP(proto uint8) bool { return proto == protoICMP || proto == protoICMPv6 }

// KeyFields are the parts of a session id. Which of the port fields are
// meaningful depends on Protocol: SourcePort and DestinationPort for TCP, UDP,
// SCTP, DCCP and UDP-Lite; ICMPID, ICMPType and ICMPCode for ICMP and ICMPv6;
// none for other protocols. The others are zero.
type KeyFields struct {
	ZoneID          uint16
	Protocol        uint8
	Source          netip.Addr
	Destination     netip.Addr
	SourcePort      uint16
	DestinationPort uint16
	ICMPID          uint16
	ICMPType        uint8
	ICMPCode        uint8
}

// String returns the canonical session id of k. Source and Destination must
// be valid addresses.
func (k KeyFields) String() string {
	return string(k.AppendTo(make([]byte, 0, 64)))
}

// AppendTo appends the canonical session id of k (String) to b, for callers
// that build many ids without an allocation each.
func (k KeyFields) AppendTo(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(k.ZoneID), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(k.Protocol), 10)
	b = append(b, '/')
	b = k.Source.AppendTo(b)
	b = append(b, '/')
	switch {
	case isICMP(k.Protocol):
		b = strconv.AppendUint(b, uint64(k.ICMPID), 10)
		b = append(b, '/')
		b = k.Destination.AppendTo(b)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(k.ICMPType), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(k.ICMPCode), 10)
	case hasPorts(k.Protocol):
		b = strconv.AppendUint(b, uint64(k.SourcePort), 10)
		b = append(b, '/')
		b = k.Destination.AppendTo(b)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(k.DestinationPort), 10)
	default:
		b = append(b, '0', '/')
		b = k.Destination.AppendTo(b)
		b = append(b, '/', '0')
	}
	return b
}

// Session returns a new session that carries k: id, address-family,
// protocol, zone-id and the original tuple. It is the smallest session that
// names the flow, e.g. to delete it on a device by key.
func (k KeyFields) Session() *Session {
	af := flowstate.SamiFlowState_AddressFamily_ipv6
	if k.Source.Is4() {
		af = flowstate.SamiFlowState_AddressFamily_ipv4
	}
	o := &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
		SourceAddress:      ygot.String(k.Source.String()),
		DestinationAddress: ygot.String(k.Destination.String()),
	}
	switch {
	case isICMP(k.Protocol):
		o.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{
			Type:       ygot.Uint8(k.ICMPType),
			Code:       ygot.Uint8(k.ICMPCode),
			Identifier: ygot.Uint16(k.ICMPID),
		}
	case hasPorts(k.Protocol):
		o.SourcePort = ygot.Uint16(k.SourcePort)
		o.DestinationPort = ygot.Uint16(k.DestinationPort)
	}
	return &Session{
		Id:            ygot.String(k.String()),
		AddressFamily: af,
		Protocol:      ygot.Uint8(k.Protocol),
		ZoneId:        ygot.Uint16(k.ZoneID),
		Original:      o,
	}
}

// Key derives the canonical session id of s from its zone-id (0 when absent)
// and its original tuple, as the session-id typedef defines it. It ignores
// s.Id, so it can compute the id of a session read from a device that does not
// store one.
func Key(s *Session) (string, error) {
	k, err := keyFields(s)
	if err != nil {
		return "", err
	}
	id := k.String()
	if len(id) > maxKeyLen {
		return "", keyTooLong(s, len(id))
	}
	return id, nil
}

// KeyFieldsOf returns the fields that Key(s) is made of, failing where Key
// fails, without formatting the id and parsing it back: for a device
// backend that writes the tuple of many sessions.
func KeyFieldsOf(s *Session) (KeyFields, error) {
	k, err := keyFields(s)
	if err != nil {
		return KeyFields{}, err
	}
	var buf [maxKeyLen + 1]byte
	if n := len(k.AppendTo(buf[:0])); n > maxKeyLen {
		return KeyFields{}, keyTooLong(s, n)
	}
	return k, nil
}

func keyTooLong(s *Session, n int) error {
	return sessionErr(s, "id", fmt.Errorf("%w: derived key has %d characters, more than %d", ErrInvalid, n, maxKeyLen))
}

// SetKey sets s.Id to Key(s), so that a session built from vendor data gets
// the id every other device derives for the same flow.
func SetKey(s *Session) error {
	id, err := Key(s)
	if err != nil {
		return err
	}
	s.Id = ygot.String(id)
	return nil
}

// CheckKey verifies that s.Id is the key derived from s, because a session
// whose id disagrees with its tuple would be compared and deleted as a
// different flow. A mismatch wraps ErrKeyMismatch.
func CheckKey(s *Session) error {
	id, err := Key(s)
	if err != nil {
		return err
	}
	switch {
	case s.Id == nil:
		return sessionErr(s, "id", fmt.Errorf("%w (derived key %q)", ErrMissing, id))
	case *s.Id != id:
		return sessionErr(s, "id", fmt.Errorf("%w %q", ErrKeyMismatch, id))
	}
	return nil
}

func keyFields(s *Session) (KeyFields, error) {
	var k KeyFields
	if s == nil {
		return k, ErrNilSession
	}
	var want func(netip.Addr) bool
	switch s.AddressFamily {
	case flowstate.SamiFlowState_AddressFamily_ipv4:
		want = netip.Addr.Is4
	case flowstate.SamiFlowState_AddressFamily_ipv6:
		want = netip.Addr.Is6
	case flowstate.SamiFlowState_AddressFamily_UNSET:
		return k, sessionErr(s, "address-family", ErrMissing)
	default:
		return k, sessionErr(s, "address-family", fmt.Errorf("%w: value %d", ErrInvalid, int64(s.AddressFamily)))
	}
	if s.Protocol == nil {
		return k, sessionErr(s, "protocol", ErrMissing)
	}
	k.Protocol = *s.Protocol
	k.ZoneID = s.GetZoneId()
	o := s.Original
	if o == nil {
		return k, sessionErr(s, "original", ErrMissing)
	}
	var err error
	if k.Source, err = keyAddr(s, "original/source-address", o.SourceAddress, want); err != nil {
		return k, err
	}
	if k.Destination, err = keyAddr(s, "original/destination-address", o.DestinationAddress, want); err != nil {
		return k, err
	}
	switch {
	case isICMP(k.Protocol):
		// Only the type is required: code and identifier are zero for the
		// ICMP messages that have none, and vendors omit them then.
		if o.Icmp == nil || o.Icmp.Type == nil {
			return k, sessionErr(s, "original/icmp/type", ErrMissing)
		}
		k.ICMPType = *o.Icmp.Type
		k.ICMPCode = o.Icmp.GetCode()
		k.ICMPID = o.Icmp.GetIdentifier()
	case hasPorts(k.Protocol):
		if o.SourcePort == nil {
			return k, sessionErr(s, "original/source-port", ErrMissing)
		}
		if o.DestinationPort == nil {
			return k, sessionErr(s, "original/destination-port", ErrMissing)
		}
		k.SourcePort, k.DestinationPort = *o.SourcePort, *o.DestinationPort
	}
	return k, nil
}

func keyAddr(s *Session, path string, p *string, want func(netip.Addr) bool) (netip.Addr, error) {
	if p == nil {
		return netip.Addr{}, sessionErr(s, path, ErrMissing)
	}
	a, err := netip.ParseAddr(*p)
	if err != nil {
		return a, sessionErr(s, path, fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	if !want(a) {
		return a, sessionErr(s, path, fmt.Errorf("%q %w %s", *p, ErrFamilyMismatch, afName(s.AddressFamily)))
	}
	if strings.IndexByte(a.Zone(), '/') >= 0 {
		return a, sessionErr(s, path, fmt.Errorf("%w: zone of %q contains '/'", ErrInvalid, *p))
	}
	return a, nil
}

func afName(af flowstate.E_SamiFlowState_AddressFamily) string {
	if d, ok := af.ΛMap()["E_SamiFlowState_AddressFamily"][int64(af)]; ok {
		return d.Name
	}
	return strconv.FormatInt(int64(af), 10)
}

// ParseKey splits a session id into its fields. It accepts only the canonical
// form that Key produces, so that ParseKey(id).String() == id and two spellings
// of one flow cannot both be accepted as ids.
func ParseKey(id string) (KeyFields, error) {
	var k KeyFields
	bad := func(format string, a ...any) (KeyFields, error) {
		return KeyFields{}, fmt.Errorf("flow: %w %q: %s", ErrMalformedKey, id, fmt.Sprintf(format, a...))
	}
	if len(id) > maxKeyLen {
		return bad("%d characters, more than %d", len(id), maxKeyLen)
	}
	var f [6]string
	rest := id
	for i := range 5 {
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return bad("%d fields, want 6", i+1)
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	f[5] = rest
	if strings.IndexByte(rest, '/') >= 0 {
		return bad("more than 6 fields")
	}
	zone, ok := canonUint(f[0], 16)
	if !ok {
		return bad("zone-id %q is not a canonical 16-bit number", f[0])
	}
	proto, ok := canonUint(f[1], 8)
	if !ok {
		return bad("protocol %q is not a canonical 8-bit number", f[1])
	}
	k.ZoneID, k.Protocol = uint16(zone), uint8(proto)
	var err error
	if k.Source, err = canonAddr(f[2]); err != nil {
		return bad("source address: %v", err)
	}
	if k.Destination, err = canonAddr(f[4]); err != nil {
		return bad("destination address: %v", err)
	}
	if k.Source.Is4() != k.Destination.Is4() {
		return bad("source and destination address families differ")
	}
	sp, ok := canonUint(f[3], 16)
	if !ok {
		return bad("source port %q is not a canonical 16-bit number", f[3])
	}
	switch {
	case isICMP(k.Protocol):
		t, c, found := strings.Cut(f[5], ".")
		typ, ok1 := canonUint(t, 8)
		code, ok2 := canonUint(c, 8)
		if !found || !ok1 || !ok2 {
			return bad("ICMP destination field %q is not <type>.<code>", f[5])
		}
		k.ICMPID, k.ICMPType, k.ICMPCode = uint16(sp), uint8(typ), uint8(code)
	case hasPorts(k.Protocol):
		dp, ok := canonUint(f[5], 16)
		if !ok {
			return bad("destination port %q is not a canonical 16-bit number", f[5])
		}
		k.SourcePort, k.DestinationPort = uint16(sp), uint16(dp)
	default:
		if f[3] != "0" || f[5] != "0" {
			return bad("protocol %d has no ports, both port fields must be 0", k.Protocol)
		}
	}
	return k, nil
}

// canonUint parses a decimal number without sign, leading zeros or excess
// digits.
func canonUint(s string, bits int) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, bits)
	return v, err == nil
}

func canonAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	if c := a.String(); c != s {
		return a, fmt.Errorf("%q is not canonical (%q)", s, c)
	}
	return a, nil
}
