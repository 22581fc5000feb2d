package ciscoiosxe

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver/mapdrivertest"
	mt "github.com/sami-netops/sami/pkg/mapping/mappingtest"
)

func want() []*flow.Session {
	pat := mt.Want{Protocol: 6, Src: mt.Tuple{Addr: "10.10.1.5", Port: 51514}, Dst: mt.Tuple{Addr: "93.184.216.34", Port: 443},
		ReplySrc: mt.Tuple{Addr: "93.184.216.34", Port: 443}, ReplyDst: mt.Tuple{Addr: "198.51.100.20", Port: 1024},
		SNAT: &mt.Tuple{Addr: "198.51.100.20", Port: 1024}, Vendor: "cisco",
		VendorParams: map[string]string{"flags": "2", "application-type": "0"}}.Session()
	pat.ZoneId = ygot.Uint16(0) // vrfid 0 is read, not defaulted
	return []*flow.Session{
		pat,
		mt.Want{Protocol: 17, Zone: 3, Vrf: "voice", Src: mt.Tuple{Addr: "172.16.3.10", Port: 5060}, Dst: mt.Tuple{Addr: "172.16.255.1", Port: 5060},
			ReplySrc: mt.Tuple{Addr: "203.0.113.77", Port: 5060}, ReplyDst: mt.Tuple{Addr: "172.16.3.10", Port: 5060},
			DNAT: &mt.Tuple{Addr: "203.0.113.77", Port: 5060}, Vendor: "cisco",
			VendorParams: map[string]string{"flags": "1"}}.Session(),
	}
}

func TestDriver(t *testing.T) {
	data, err := os.ReadFile("testdata/nat-data.xml")
	if err != nil {
		t.Fatal(err)
	}
	body := string(data)
	body = body[strings.Index(body, "<data"):]
	dev := &mapdrivertest.Device{Replies: map[string]string{"get": body}}
	d, err := mapdriver.New("xe1", dev.Session(t), Mapping(), mapdriver.WithSkipInvalid(true))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var got []*flow.Session
	if err := d.Read(context.Background(), nil, func(s *flow.Session) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want(), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !strings.Contains(dev.Requests[0], `<nat-data xmlns="http://cisco.com/ns/yang/Cisco-IOS-XE-nat-oper"><ip-nat-translation></ip-nat-translation></nat-data>`) {
		t.Errorf("filter: %s", dev.Requests[0])
	}
	if err := d.Stage(context.Background(), nil); !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("stage: %v", err)
	}
}

// TestICMPRefused: without skip-invalid, an entry the mapping cannot
// express fails the read, naming the entry.
func TestICMPRefused(t *testing.T) {
	c, err := mapping.NewConverter(Mapping())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open("testdata/nat-data.xml")
	defer f.Close()
	err = c.Convert(context.Background(), f, func(*flow.Session) error { return nil })
	if !errors.Is(err, mapping.ErrConvert) || !strings.Contains(err.Error(), "entry 3") {
		t.Errorf("got %v", err)
	}
}

// TestRealModule validates the mapping against the real
// Cisco-IOS-XE-nat-oper (SAMI_VENDOR_YANG/cisco-iosxe) with the fixture.
func TestRealModule(t *testing.T) {
	dir := mt.VendorYANG(t, "cisco-iosxe")
	mods, err := mapping.LoadModules(context.Background(), mapping.ModuleNames(Mapping()), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	m := *Mapping()
	r, err := mapping.Validate(context.Background(), &m, mods)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Error(err)
	}
}
