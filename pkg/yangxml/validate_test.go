package yangxml_test

import (
	"errors"
	"strings"
	"testing"

	fs "github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/yangxml"
)

func TestValidate(t *testing.T) {
	c := newCodec(t)
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			if err := c.Validate(f.build()); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("missing mandatory", func(t *testing.T) {
		s := icmpSession()
		s.AddressFamily = fs.SamiFlowState_AddressFamily_UNSET
		s.Original = nil
		err := c.Validate(deviceWith(s), yangxml.ConfigData(), yangxml.SkipTypeChecks())
		if !errors.Is(err, yangxml.ErrMissingMandatory) {
			t.Fatalf("got %v, want ErrMissingMandatory", err)
		}
		for _, want := range []string{
			"/sami-flow-state:flow-state/sessions/session[id='0/1/192.0.2.1/4711/192.0.2.2/8.0']/address-family: missing mandatory node",
			"/sami-flow-state:flow-state/sessions/session[id='0/1/192.0.2.1/4711/192.0.2.2/8.0']/original: missing mandatory node",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
	t.Run("ygot value check", func(t *testing.T) {
		s := icmpSession()
		s.Id = ptr("no-good")
		if err := c.Validate(deviceWith(s)); !errors.Is(err, yangxml.ErrInvalidValue) {
			t.Fatalf("got %v, want ErrInvalidValue", err)
		}
	})
}

func TestXPath(t *testing.T) {
	c := newCodec(t)
	got, ns := c.XPath("/sami-flow-state:flow-state/sessions/session[id='0/6/10.0.0.1/1/10.0.0.2/2']/vendor-parameter[vendor='a/b'][name=\"x]y\"]/value")
	want := "/sfs:flow-state/sfs:sessions/sfs:session[sfs:id='0/6/10.0.0.1/1/10.0.0.2/2']/sfs:vendor-parameter[sfs:vendor='a/b'][sfs:name=\"x]y\"]/sfs:value"
	if got != want || ns["sfs"] != "urn:sami:params:xml:ns:yang:sami-flow-state" || len(ns) != 1 {
		t.Errorf("XPath:\n got %s %v\nwant %s", got, ns, want)
	}
	if got, ns := c.XPath("/flow-state"); got != "/flow-state" || len(ns) != 0 {
		t.Errorf("unknown module: %s %v", got, ns)
	}
}
