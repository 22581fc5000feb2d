package mapping

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

var errAbsent = errors.New("absent")

// value turns a vendor text into the value of canonical leaf cl, in the
// form ytypes' JSON unmarshal takes (RFC 7951: numbers up to 32 bits as
// float64, 64-bit ones as strings). errAbsent means "no value".
func (f *Field) value(text string, cl *canonLeaf) (any, error) {
	// Devices pad values (Junos: " Unknown") and print empty elements for
	// nothing: an empty value is an absent one.
	text = strings.TrimSpace(text)
	if text == "" || slices.Contains(f.Absent, text) {
		return nil, errAbsent
	}
	if len(f.Enum) > 0 {
		for _, e := range f.Enum {
			if e.Key == text {
				return f.canonical(e.Value, cl, true)
			}
		}
		switch f.Otherwise {
		case "keep":
			return f.canonical(text, cl, true)
		case "number":
			return f.canonical(text, cl, false)
		}
		return nil, fmt.Errorf("value %q is not in the enum map", text)
	}
	return f.canonical(text, cl, false)
}

// canonical converts text to cl's type. renamed: text is a canonical value
// from the enum map or a constant (decimal, unscaled).
func (f *Field) canonical(text string, cl *canonLeaf, renamed bool) (any, error) {
	var v any
	switch cl.typ.kind {
	case kInt:
		n, err := parseInt(text, !renamed && f.Number == "hex-or-decimal")
		if err != nil {
			return nil, err
		}
		if !renamed {
			if n, err = f.scale(n); err != nil {
				return nil, err
			}
		}
		if err := inRange(n, cl.typ); err != nil {
			return nil, err
		}
		if cl.typ.bits == 64 {
			v = strconv.FormatInt(n, 10)
			if !cl.typ.signed {
				v = strconv.FormatUint(uint64(n), 10)
			}
		} else {
			v = float64(n)
		}
	case kIP:
		a, err := parseAddr(text, f.HostPrefix)
		if err != nil {
			return nil, err
		}
		v = a.String()
	case kEnum:
		if !slices.Contains(cl.typ.enums, text) {
			return nil, fmt.Errorf("%q is not one of %s", text, strings.Join(cl.typ.enums, ", "))
		}
		v = text
	case kBool:
		switch text {
		case "true", "false":
			v = text == "true"
		default:
			return nil, fmt.Errorf("%q is not true or false", text)
		}
	case kString, kBinary:
		v = text
		if f.Number != "" && !renamed { // a number kept as text: written in decimal
			n, err := parseInt(text, f.Number == "hex-or-decimal")
			if err != nil {
				return nil, err
			}
			v = strconv.FormatInt(n, 10)
		}
	default:
		if cl.typ.name == "union" { // max-sessions style unions: numbers or strings
			v = text
			break
		}
		return nil, fmt.Errorf("canonical type %s cannot be mapped", cl.typ)
	}
	if cl.leafList {
		return []any{v}, nil
	}
	return v, nil
}

// parseInt reads a decimal integer, or with hex a 0x-prefixed hexadecimal
// one. Values beyond int64 are refused (no canonical leaf needs them
// except uint64 counters, which fit in practice).
func parseInt(s string, hex bool) (int64, error) {
	base := 10
	digits := s
	if hex && (strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")) {
		base, digits = 16, s[2:]
	}
	if digits == "" || digits[0] == '+' {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if digits[0] == '-' && base == 16 {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseInt(digits, base, 64)
	if err != nil {
		if u, uerr := strconv.ParseUint(digits, base, 64); uerr == nil && u > math.MaxInt64 {
			return 0, fmt.Errorf("%s is too large", s)
		}
		if !hex && (strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")) {
			return 0, fmt.Errorf("%q is hexadecimal: declare number: hex-or-decimal", s)
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return n, nil
}

func (f *Field) scale(n int64) (int64, error) {
	mul, div := f.Multiply, f.Divide
	if u, ok := unitSeconds[f.Units]; ok && f.Units != "" {
		mul, div = u[0], u[1]
	}
	if mul > 1 {
		if n != 0 && (n > math.MaxInt64/int64(mul) || n < math.MinInt64/int64(mul)) {
			return 0, fmt.Errorf("%d times %d overflows", n, mul)
		}
		n *= int64(mul)
	}
	if div > 1 {
		n /= int64(div)
	}
	return n, nil
}

// unscale is the inverse of scale, for writing.
func (f *Field) unscale(n int64) int64 {
	mul, div := f.Multiply, f.Divide
	if u, ok := unitSeconds[f.Units]; ok && f.Units != "" {
		mul, div = u[0], u[1]
	}
	if div > 1 {
		n *= int64(div)
	}
	if mul > 1 {
		n /= int64(mul)
	}
	return n
}

func inRange(n int64, t typeInfo) error {
	if t.bits == 64 {
		if !t.signed && n < 0 {
			return fmt.Errorf("%d is negative, the canonical leaf is %s", n, t)
		}
		return nil
	}
	var lo, hi int64
	if t.signed {
		lo, hi = -(1 << (t.bits - 1)), 1<<(t.bits-1)-1
	} else {
		lo, hi = 0, 1<<t.bits-1
	}
	if n < lo || n > hi {
		return fmt.Errorf("%d is out of range for the canonical %s", n, t)
	}
	return nil
}

// parseAddr reads an address, or with hostPrefix a prefix of one host.
func parseAddr(s string, hostPrefix bool) (netip.Addr, error) {
	if hostPrefix && strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%q is not an IP prefix", s)
		}
		if p.Bits() != p.Addr().BitLen() {
			return netip.Addr{}, fmt.Errorf("prefix %s is wider than one host (a rule, not a flow)", s)
		}
		return p.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone, which the sami model cannot carry", s)
	}
	return a, nil
}
