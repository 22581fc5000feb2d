package ietfnat

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/device"
)

// Driver options (device.Config.Options). Every option is optional.
const (
	// OptInstanceID is the NAT instance (/nat/instances/instance/id) whose
	// mapping table holds the sessions: 1 to 4294967295, default 1.
	OptInstanceID = "instance-id"
	// OptInstanceName is the instance's name: checked against the device
	// when connecting (a different name is a configuration error), and
	// written when Stage creates the instance.
	OptInstanceName = "instance-name"
	// OptZoneID is the zone-id of the sessions in this instance (default
	// 0): a device whose NAT instances stand for VRFs maps each to a zone.
	OptZoneID = "zone-id"
	// OptRead selects what Read reads: "operational" (<get>: configured
	// and dynamic entries, the default) or "running" (<get-config>).
	OptRead = "read"
	// OptReply is "derive" (default: sessions read carry the reply tuple
	// derived from the original and the translation, as Linux reports it)
	// or "omit".
	OptReply = "reply"
	// OptLossy "true" makes Stage write what an entry can carry of each
	// session (Mapping.Project) instead of refusing sessions with more.
	OptLossy = "lossy"
	// OptIPv6 "true" or "false" overrides whether the device is said to
	// take IPv6 sessions (default: from the instance's nat-flavor
	// capability, else from the ietf-nat features in the hello: nptv6 or
	// nat64).
	OptIPv6 = "ipv6"
	// OptWatchInterval is the polling period of Watch (default 1s).
	OptWatchInterval = "watch-interval"
	// OptVendor and OptDomain are reported in Capabilities as they are.
	OptVendor = "vendor"
	OptDomain = "domain"
)

type options struct {
	instance      uint32
	name          string
	mapping       Mapping
	running       bool // Read with get-config running
	lossy         bool
	ipv6          *bool
	watchInterval time.Duration
	vendor        string
	domain        string
}

func parseOptions(o map[string]string) (options, error) {
	opts := options{instance: 1, watchInterval: time.Second}
	bad := func(k, v, why string) error {
		return fmt.Errorf("%w: option %s=%q: %s", device.ErrConfig, k, v, why)
	}
	parseBool := func(k, v string) (bool, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, bad(k, v, "not true or false")
		}
		return b, nil
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := o[k]
		switch k {
		case OptInstanceID:
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || n == 0 {
				return opts, bad(k, v, "not a NAT instance id (1 to 4294967295)")
			}
			opts.instance = uint32(n)
		case OptInstanceName:
			opts.name = v
		case OptZoneID:
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
			if err != nil {
				return opts, bad(k, v, "not a zone id (0 to 65535)")
			}
			opts.mapping.ZoneID = uint16(n)
		case OptRead:
			switch v {
			case "operational", "":
			case "running":
				opts.running = true
			default:
				return opts, bad(k, v, `not "operational" or "running"`)
			}
		case OptReply:
			switch v {
			case "derive", "":
			case "omit":
				opts.mapping.OmitReply = true
			default:
				return opts, bad(k, v, `not "derive" or "omit"`)
			}
		case OptLossy:
			b, err := parseBool(k, v)
			if err != nil {
				return opts, err
			}
			opts.lossy = b
		case OptIPv6:
			b, err := parseBool(k, v)
			if err != nil {
				return opts, err
			}
			opts.ipv6 = &b
		case OptWatchInterval:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return opts, bad(k, v, "not a positive duration (e.g. 1s)")
			}
			opts.watchInterval = d
		case OptVendor:
			opts.vendor = v
		case OptDomain:
			opts.domain = v
		default:
			return opts, fmt.Errorf("%w: unknown option %q (the ietf-nat driver knows %s)", device.ErrConfig, k, strings.Join(knownOptions, ", "))
		}
	}
	return opts, nil
}

var knownOptions = []string{OptInstanceID, OptInstanceName, OptZoneID, OptRead, OptReply, OptLossy, OptIPv6, OptWatchInterval, OptVendor, OptDomain}
