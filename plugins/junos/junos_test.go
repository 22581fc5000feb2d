package junos

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver/mapdrivertest"
	mt "github.com/sami-netops/sami/pkg/mapping/mappingtest"
)

func convert(t *testing.T, file string, opts ...mapping.ConvertOption) ([]*flow.Session, error) {
	t.Helper()
	c, err := mapping.NewConverter(Mapping(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*flow.Session
	err = c.Convert(context.Background(), f, func(s *flow.Session) error { out = append(out, s); return nil })
	return out, err
}

func bySessionID(ss []*flow.Session) {
	slices.SortFunc(ss, func(a, b *flow.Session) int { return strings.Compare(a.GetId(), b.GetId()) })
}

// TestRealReplies converts the two real Junos replies published by Juniper
// (SAMI_VENDOR_YANG/juniper/samples). The expected values were written by
// reading the XML by hand: the In wing is the original tuple, the Out wing
// the reply tuple; where Out's destination differs from In's source, the
// source was translated.
func TestRealReplies(t *testing.T) {
	dir := mt.VendorYANG(t, "juniper/samples")
	tcp, udp := uint8(6), uint8(17)
	for _, tc := range []struct {
		file string
		want []mt.Want
	}{
		{"flow-session-brief-srx-15.1I0-ipv6.xml", []mt.Want{{
			// session 20000753 on FPC0 PIC2; PIC1 and PIC3 are empty blocks
			Protocol: tcp, Src: mt.Tuple{Addr: "2000:100::2", Port: 58612}, Dst: mt.Tuple{Addr: "2000:200::2", Port: 54093},
			ReplySrc: mt.Tuple{Addr: "2000:200::2", Port: 54093}, ReplyDst: mt.Tuple{Addr: "2000:100::2", Port: 58612},
			InIf: "xe-2/0/0.0", OutIf: "xe-2/0/1.0", Remaining: mt.U32(1798), Idle: mt.U32(1800),
			Counters: &[4]uint64{39, 2816, 93, 137776}, Policy: "p1/4", Vendor: "juniper",
			VendorParams: map[string]string{"session-identifier": "20000753", "conn-tag": "0"},
		}}},
		{"flow-session-brief-srx-cluster-18.2I0-source-nat.xml", []mt.Want{
			{ // 20000019, FPC0 PIC2: IPv6 syslog, source NAT to 3000:10::1:10226
				Protocol: udp, Src: mt.Tuple{Addr: "2000::2", Port: 10000}, Dst: mt.Tuple{Addr: "2000:1::2", Port: 514},
				ReplySrc: mt.Tuple{Addr: "2000:1::2", Port: 514}, ReplyDst: mt.Tuple{Addr: "3000:10::1", Port: 10226},
				SNAT: &mt.Tuple{Addr: "3000:10::1", Port: 10226}, InIf: "reth0.0", OutIf: "reth1.0",
				Remaining: mt.U32(5584), Idle: mt.U32(6000), Counters: &[4]uint64{2, 160, 0, 0}, Policy: "t_un/4", Vendor: "juniper",
				VendorParams: map[string]string{"session-identifier": "20000019", "session-state": "Backup", "conn-tag": "0",
					"nat-source-pool": "root_src_v6_pat_10", "application": "junos-syslog"},
			},
			{ // 20000020, FPC0 PIC2: IPv6 telnet, source NAT to 3000:10::2:12065
				Protocol: tcp, Src: mt.Tuple{Addr: "2000::2", Port: 40241}, Dst: mt.Tuple{Addr: "2000:1::2", Port: 23},
				ReplySrc: mt.Tuple{Addr: "2000:1::2", Port: 23}, ReplyDst: mt.Tuple{Addr: "3000:10::2", Port: 12065},
				SNAT: &mt.Tuple{Addr: "3000:10::2", Port: 12065}, InIf: "reth0.0", OutIf: "reth1.0",
				Remaining: mt.U32(1388), Idle: mt.U32(1800), Counters: &[4]uint64{16, 1218, 16, 2905}, Policy: "t_un/4", Vendor: "juniper",
				VendorParams: map[string]string{"session-identifier": "20000020", "session-state": "Backup", "conn-tag": "0",
					"nat-source-pool": "root_src_v6_pat_10", "application": "junos-telnet"},
			},
			{ // 30000018, FPC0 PIC3: 100.0.0.10:10000 -> 100.0.1.10:20000 udp, translated source 30.0.1.2:11053
				Protocol: udp, Src: mt.Tuple{Addr: "100.0.0.10", Port: 10000}, Dst: mt.Tuple{Addr: "100.0.1.10", Port: 20000},
				ReplySrc: mt.Tuple{Addr: "100.0.1.10", Port: 20000}, ReplyDst: mt.Tuple{Addr: "30.0.1.2", Port: 11053},
				SNAT: &mt.Tuple{Addr: "30.0.1.2", Port: 11053}, InIf: "reth0.0", OutIf: "reth1.0",
				Remaining: mt.U32(5574), Idle: mt.U32(6000), Counters: &[4]uint64{2, 120, 0, 0}, Policy: "t_un/4", Vendor: "juniper",
				VendorParams: map[string]string{"session-identifier": "30000018", "session-state": "Backup", "conn-tag": "0",
					"nat-source-pool": "root_src_v4_pat"},
			},
			{ // 230000011, FPC5 PIC3: telnet, translated source 30.0.1.1:10579
				Protocol: tcp, Src: mt.Tuple{Addr: "100.0.0.2", Port: 34962}, Dst: mt.Tuple{Addr: "100.0.1.2", Port: 23},
				ReplySrc: mt.Tuple{Addr: "100.0.1.2", Port: 23}, ReplyDst: mt.Tuple{Addr: "30.0.1.1", Port: 10579},
				SNAT: &mt.Tuple{Addr: "30.0.1.1", Port: 10579}, InIf: "reth0.0", OutIf: "reth1.0",
				Remaining: mt.U32(1380), Idle: mt.U32(1800), Counters: &[4]uint64{16, 898, 16, 2589}, Policy: "t_un/4", Vendor: "juniper",
				VendorParams: map[string]string{"session-identifier": "230000011", "session-state": "Backup", "conn-tag": "0",
					"nat-source-pool": "root_src_v4_pat", "application": "junos-telnet"},
			},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := convert(t, filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var want []*flow.Session
			for _, w := range tc.want {
				want = append(want, w.Session())
			}
			bySessionID(got)
			bySessionID(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFixture converts the project's own Junos-like reply: a cluster of
// two nodes, a newer release namespace, several PIC blocks, a hex conn-tag,
// a destination-NAT'd session and an ICMP session the brief output cannot
// express (an error, or skipped with SkipInvalid).
func TestFixture(t *testing.T) {
	_, err := convert(t, "testdata/cluster-reply.xml")
	var ee *mapping.EntryError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "icmp") {
		t.Fatalf("want the ICMP entry refused with an EntryError, got %v", err)
	}
	var skipped []error
	got, err := convert(t, "testdata/cluster-reply.xml", mapping.SkipInvalid(func(err error) { skipped = append(skipped, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 {
		t.Errorf("skipped %d entries, want the ICMP one: %v", len(skipped), skipped)
	}
	want := fixtureWant()
	bySessionID(got)
	bySessionID(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	// the JSON form of the same reply (Junos "| display json") converts alike
	gotJSON, err := convert(t, "testdata/cluster-reply.json", mapping.SkipInvalid(func(error) {}))
	if err != nil {
		t.Fatal(err)
	}
	bySessionID(gotJSON)
	if diff := cmp.Diff(want, gotJSON); diff != "" {
		t.Errorf("JSON sessions (-want +got):\n%s", diff)
	}
}

func fixtureWant() []*flow.Session {
	return []*flow.Session{
		mt.Want{Protocol: 6, Src: mt.Tuple{Addr: "10.1.0.5", Port: 51000}, Dst: mt.Tuple{Addr: "192.0.2.80", Port: 443},
			ReplySrc: mt.Tuple{Addr: "192.0.2.80", Port: 443}, ReplyDst: mt.Tuple{Addr: "198.51.100.7", Port: 40001},
			SNAT: &mt.Tuple{Addr: "198.51.100.7", Port: 40001}, InZone: "trust", OutZone: "untrust", InIf: "reth0.0", OutIf: "reth1.0",
			Remaining: mt.U32(1790), Idle: mt.U32(1800), Counters: &[4]uint64{12, 1400, 10, 9000}, Policy: "allow-web/7", Vendor: "juniper",
			VendorParams: map[string]string{"session-identifier": "4000001", "session-state": "Active", "conn-tag": "24584", "nat-source-pool": "pool-a"}}.Session(),
		mt.Want{Protocol: 17, Src: mt.Tuple{Addr: "203.0.113.9", Port: 5060}, Dst: mt.Tuple{Addr: "198.51.100.8", Port: 5060},
			ReplySrc: mt.Tuple{Addr: "10.2.0.8", Port: 5060}, ReplyDst: mt.Tuple{Addr: "203.0.113.9", Port: 5060},
			DNAT: &mt.Tuple{Addr: "10.2.0.8", Port: 5060}, InZone: "untrust", OutZone: "dmz", InIf: "reth1.0", OutIf: "reth2.0",
			Remaining: mt.U32(50), Idle: mt.U32(60), Counters: &[4]uint64{3, 900, 2, 700}, Policy: "sip-in/9", Vendor: "juniper",
			VendorParams: map[string]string{"session-identifier": "5000002", "session-state": "Backup", "conn-tag": "255", "nat-destination-pool": "sip-servers", "application": "junos-sip"}}.Session(),
	}
}

func TestDriver(t *testing.T) {
	reply, err := os.ReadFile("testdata/cluster-reply.xml")
	if err != nil {
		t.Fatal(err)
	}
	body := string(reply)
	body = body[strings.Index(body, "<multi-routing-engine-results"):strings.LastIndex(body, "</rpc-reply>")]
	dev := &mapdrivertest.Device{Replies: map[string]string{"get-flow-session-information": body}}
	d, err := mapdriver.New("srx1", dev.Session(t), Mapping(), mapdriver.WithSkipInvalid(true), mapdriver.WithFeatures("nat", "ipv6"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	t.Run("read", func(t *testing.T) {
		var got []*flow.Session
		if err := d.Read(ctx, nil, func(s *flow.Session) error { got = append(got, s); return nil }); err != nil {
			t.Fatal(err)
		}
		want := fixtureWant()
		bySessionID(got)
		bySessionID(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !strings.Contains(dev.Requests[0], "<get-flow-session-information></get-flow-session-information>") {
			t.Errorf("request %s", dev.Requests[0])
		}
	})
	t.Run("read with a matcher", func(t *testing.T) {
		var got []string
		m := flow.NewMatcher(flow.Endpoint{Address: mustAddr(t, "203.0.113.9")})
		if err := d.Read(ctx, m, func(s *flow.Session) error { got = append(got, s.GetId()); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !strings.Contains(got[0], "203.0.113.9") {
			t.Errorf("got %v", got)
		}
	})
	t.Run("the caller's error is returned as is", func(t *testing.T) {
		stop := errors.New("stop")
		if err := d.Read(ctx, nil, func(*flow.Session) error { return stop }); err != stop {
			t.Errorf("got %v", err)
		}
	})
	t.Run("capabilities", func(t *testing.T) {
		c, err := d.Capabilities(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Writable || c.Vendor != "juniper" || c.Model != Name || !slices.Equal(c.Features, []string{"nat", "ipv6"}) {
			t.Errorf("%+v", c)
		}
	})
	t.Run("writes are unsupported", func(t *testing.T) {
		for name, err := range map[string]error{
			"lock":   d.Lock(ctx),
			"stage":  d.Stage(ctx, slices.Values([]*flow.Session{})),
			"commit": d.Commit(ctx, device.CommitOptions{}),
			"watch":  d.Watch(ctx, nil, nil),
		} {
			if !errors.Is(err, device.ErrUnsupported) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestRegister(t *testing.T) {
	r := device.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	_, err := r.Open(context.Background(), device.Config{Name: "x", Driver: Name})
	if !errors.Is(err, device.ErrConfig) {
		t.Errorf("no address: %v", err)
	}
	_, err = r.Open(context.Background(), device.Config{Name: "x", Driver: Name, Address: "127.0.0.1:1", Options: map[string]string{"bogus": "1"}})
	if !errors.Is(err, device.ErrConfig) || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown option: %v", err)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
