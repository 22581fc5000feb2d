package flow

import (
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
)

// Feature is a device capability of the model's feature identity: what a
// device must support to hold a part of a session.
type Feature = flowstate.E_SamiFlowState_Feature

// FeatureName is the YANG identity name of ft ("nat", "tcp-window-tracking").
func FeatureName(ft Feature) string {
	if name, err := ygot.EnumName(ft); err == nil {
		return name
	}
	return ft.String()
}

// Features lists, in a fixed order, the features a device needs to hold s
// as it is. The device's capabilities name the same identities, so a
// destination that lacks one of them cannot take s unchanged (see Strip).
func Features(s *Session) []Feature {
	var out []Feature
	add := func(ft Feature, used bool) {
		if used {
			out = append(out, ft)
		}
	}
	var window, seq bool
	if t := s.GetTcp(); t != nil {
		if o := t.Original; o != nil {
			window = o.WindowScale != nil || len(o.Flags) > 0
			seq = o.SequenceEnd != nil || o.SequenceMaxEnd != nil || o.MaxWindow != nil || o.MaxAck != nil
		}
		if r := t.Reply; r != nil {
			window = window || r.WindowScale != nil || len(r.Flags) > 0
			seq = seq || r.SequenceEnd != nil || r.SequenceMaxEnd != nil || r.MaxWindow != nil || r.MaxAck != nil
		}
	}
	add(flowstate.SamiFlowState_Feature_ipv6, s.AddressFamily == flowstate.SamiFlowState_AddressFamily_ipv6)
	add(flowstate.SamiFlowState_Feature_zones, s.GetZoneId() != 0)
	add(flowstate.SamiFlowState_Feature_nat, s.GetNat() != nil && (s.Nat.Source != nil || s.Nat.Destination != nil))
	add(flowstate.SamiFlowState_Feature_tcp_window_tracking, window)
	add(flowstate.SamiFlowState_Feature_seq_tracking, seq)
	add(flowstate.SamiFlowState_Feature_alg, s.GetAlg() != nil && (s.Alg.Helper != nil || s.Alg.Master != nil || len(s.Alg.State) > 0))
	add(flowstate.SamiFlowState_Feature_labels, len(s.Label) > 0)
	add(flowstate.SamiFlowState_Feature_marks, s.GetMark() != 0)
	return out
}

// Strip removes from s the data that needs ft and reports whether anything
// was removed. Features that are part of the flow's identity (ipv6, zones,
// nat) cannot be stripped: a flow without them is another flow, so Strip
// leaves s alone and returns false for them.
func Strip(s *Session, ft Feature) bool {
	switch ft {
	case flowstate.SamiFlowState_Feature_tcp_window_tracking:
		changed := false
		if t := s.GetTcp(); t != nil {
			if o := t.Original; o != nil && (o.WindowScale != nil || len(o.Flags) > 0) {
				o.WindowScale, o.Flags, changed = nil, nil, true
			}
			if r := t.Reply; r != nil && (r.WindowScale != nil || len(r.Flags) > 0) {
				r.WindowScale, r.Flags, changed = nil, nil, true
			}
		}
		return changed
	case flowstate.SamiFlowState_Feature_seq_tracking:
		changed := false
		if t := s.GetTcp(); t != nil {
			if o := t.Original; o != nil && (o.SequenceEnd != nil || o.SequenceMaxEnd != nil || o.MaxWindow != nil || o.MaxAck != nil) {
				o.SequenceEnd, o.SequenceMaxEnd, o.MaxWindow, o.MaxAck, changed = nil, nil, nil, nil, true
			}
			if r := t.Reply; r != nil && (r.SequenceEnd != nil || r.SequenceMaxEnd != nil || r.MaxWindow != nil || r.MaxAck != nil) {
				r.SequenceEnd, r.SequenceMaxEnd, r.MaxWindow, r.MaxAck, changed = nil, nil, nil, nil, true
			}
		}
		return changed
	case flowstate.SamiFlowState_Feature_alg:
		if a := s.GetAlg(); a != nil && (a.Helper != nil || a.Master != nil || len(a.State) > 0) {
			s.Alg = nil
			return true
		}
	case flowstate.SamiFlowState_Feature_labels:
		if len(s.Label) > 0 {
			s.Label = nil
			return true
		}
	case flowstate.SamiFlowState_Feature_marks:
		if s.GetMark() != 0 {
			s.Mark = nil
			return true
		}
	}
	return false
}
