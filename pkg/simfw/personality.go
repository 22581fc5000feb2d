package simfw

import (
	"github.com/sami-netops/sami/generated/flowstate"
)

// Personality describes the device a Firewall simulates.
type Personality struct {
	Vendor, Model, Software string
	// MaxSessions is the size of the session table; 0 means unlimited.
	MaxSessions uint64
	// Protocols are the protocol numbers whose sessions the device
	// installs; empty means any protocol.
	Protocols []uint8
	// Features are the sami-flow-state features the device supports.
	Features []flowstate.E_SamiFlowState_Feature
	// Domain is the administrative domain the device reports. The device
	// does not enforce it: keeping state inside its domain is the
	// orchestrator's job.
	Domain string
}

// Protocol numbers of the personalities.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoGRE     = 47
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// AllFeatures returns every feature of the sami-flow-state model.
func AllFeatures() []flowstate.E_SamiFlowState_Feature {
	return []flowstate.E_SamiFlowState_Feature{
		flowstate.SamiFlowState_Feature_alg,
		flowstate.SamiFlowState_Feature_confirmed_commit,
		flowstate.SamiFlowState_Feature_ipv6,
		flowstate.SamiFlowState_Feature_labels,
		flowstate.SamiFlowState_Feature_marks,
		flowstate.SamiFlowState_Feature_nat,
		flowstate.SamiFlowState_Feature_seq_tracking,
		flowstate.SamiFlowState_Feature_tcp_window_tracking,
		flowstate.SamiFlowState_Feature_zones,
	}
}

// Vendors returns the named personalities, a new map on every call:
//
//   - "sami-sim": every feature and protocol, unlimited table.
//   - "basic": no NAT, no TCP window tracking, no labels (sequence
//     tracking, ALG, zones, marks and IPv6 are there); TCP, UDP, ICMP and
//     ICMPv6; 1000 sessions.
//   - "ipv4-only": every feature but IPv6; no ICMPv6; 10000 sessions.
//   - "branch": a small NAT box: NAT, zones, marks and IPv6 only (no TCP
//     tracking data, ALG or labels); TCP, UDP, ICMP and ICMPv6; 100
//     sessions; domain "branch".
func Vendors() map[string]Personality {
	f := func(fs ...flowstate.E_SamiFlowState_Feature) []flowstate.E_SamiFlowState_Feature { return fs }
	return map[string]Personality{
		"sami-sim": {
			Vendor: "sami", Model: "simfw", Software: "1.0",
			Protocols: []uint8{protoICMP, protoTCP, protoUDP, protoDCCP, protoGRE, protoICMPv6, protoSCTP, protoUDPLite},
			Features:  AllFeatures(),
		},
		"basic": {
			Vendor: "sami", Model: "simfw-basic", Software: "1.0",
			MaxSessions: 1000,
			Protocols:   []uint8{protoICMP, protoTCP, protoUDP, protoICMPv6},
			Features: f(
				flowstate.SamiFlowState_Feature_alg,
				flowstate.SamiFlowState_Feature_ipv6,
				flowstate.SamiFlowState_Feature_marks,
				flowstate.SamiFlowState_Feature_seq_tracking,
				flowstate.SamiFlowState_Feature_zones,
			),
		},
		"ipv4-only": {
			Vendor: "sami", Model: "simfw-v4", Software: "1.0",
			MaxSessions: 10000,
			Protocols:   []uint8{protoICMP, protoTCP, protoUDP, protoDCCP, protoGRE, protoSCTP, protoUDPLite},
			Features: f(
				flowstate.SamiFlowState_Feature_alg,
				flowstate.SamiFlowState_Feature_confirmed_commit,
				flowstate.SamiFlowState_Feature_labels,
				flowstate.SamiFlowState_Feature_marks,
				flowstate.SamiFlowState_Feature_nat,
				flowstate.SamiFlowState_Feature_seq_tracking,
				flowstate.SamiFlowState_Feature_tcp_window_tracking,
				flowstate.SamiFlowState_Feature_zones,
			),
		},
		"branch": {
			Vendor: "sami", Model: "simfw-branch", Software: "0.9",
			MaxSessions: 100,
			Protocols:   []uint8{protoICMP, protoTCP, protoUDP, protoICMPv6},
			Features: f(
				flowstate.SamiFlowState_Feature_ipv6,
				flowstate.SamiFlowState_Feature_marks,
				flowstate.SamiFlowState_Feature_nat,
				flowstate.SamiFlowState_Feature_zones,
			),
			Domain: "branch",
		},
	}
}
