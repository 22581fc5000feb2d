package yangxml_test

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/openconfig/ygot/ygot"
	fs "github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// exampleCodec builds the codec for the sami-flow-state model.
func exampleCodec() *yangxml.Codec {
	schema, err := fs.Schema()
	if err != nil {
		log.Fatal(err)
	}
	var mods []yangxml.Module
	for _, m := range fs.YANGModules {
		mods = append(mods, yangxml.Module{Name: m.Name, Prefix: m.Prefix, Namespace: m.Namespace})
	}
	c, err := yangxml.New(schema, mods)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

const exampleReply = `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state">
    <sessions>
      <session>
        <id>0/17/10.0.0.1/5353/10.0.0.2/53</id>
        <address-family>ipv4</address-family>
        <protocol>17</protocol>
        <original><source-address>10.0.0.1</source-address><destination-address>10.0.0.2</destination-address>
          <source-port>5353</source-port><destination-port>53</destination-port></original>
        <timers><remaining>28</remaining></timers>
      </session>
    </sessions>
  </flow-state>
</data>`

// Decode the <data> of a NETCONF <get> reply into the generated structs.
func ExampleCodec_Unmarshal() {
	c := exampleCodec()
	d := &fs.Device{}
	if err := c.Unmarshal([]byte(exampleReply), d); err != nil {
		log.Fatal(err)
	}
	s := d.GetFlowState().GetSessions().GetSession("0/17/10.0.0.1/5353/10.0.0.2/53")
	fmt.Println(s.GetProtocol(), s.GetOriginal().GetDestinationPort(), s.GetTimers().GetRemaining())
	// Output: 17 53 28
}

// Errors carry the data path of the offending node.
func ExampleError() {
	c := exampleCodec()
	bad := strings.Replace(exampleReply, "<protocol>17</protocol>", "<protocol>300</protocol>", 1)
	err := c.Unmarshal([]byte(bad), &fs.Device{})
	fmt.Println(err)
	// Output: yangxml: /sami-flow-state:flow-state/sessions/session[id='0/17/10.0.0.1/5353/10.0.0.2/53']/protocol: value out of range: "300" overflows uint8 (line 7, column 22)
}

// Stream a large reply: each session is handed over as soon as it is
// decoded and never stored in the tree, so memory stays bounded.
func ExampleWithListHandler() {
	c := exampleCodec()
	n := 0
	err := c.NewDecoder(strings.NewReader(exampleReply),
		yangxml.WithListHandler("/flow-state/sessions/session", func(e ygot.GoStruct) error {
			n++
			fmt.Println("got", e.(*fs.SamiFlowState_FlowState_Sessions_Session).GetId())
			return nil
		})).Decode(&fs.Device{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "session(s)")
	// Output:
	// got 0/17/10.0.0.1/5353/10.0.0.2/53
	// 1 session(s)
}

// Write <edit-config> content that deletes sessions by key, one entry at a
// time, without building the tree.
func ExampleCodec_NewListEncoder() {
	c := exampleCodec()
	le, err := c.NewListEncoder(os.Stdout, "/flow-state/sessions/session",
		yangxml.Wrapper("config"), yangxml.WithOperation("/flow-state/sessions/session", yangxml.OpDelete), yangxml.Indent("  "))
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"0/6/10.0.0.1/40000/192.0.2.1/443", "0/1/10.0.0.1/7/192.0.2.1/8.0"} {
		s := &fs.SamiFlowState_FlowState_Sessions_Session{Id: ygot.String(id), Protocol: ygot.Uint8(6)}
		if err := le.Encode(s); err != nil {
			log.Fatal(err)
		}
	}
	if err := le.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// <config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
	//   <flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state">
	//     <sessions>
	//       <session nc:operation="delete">
	//         <id>0/6/10.0.0.1/40000/192.0.2.1/443</id>
	//       </session>
	//       <session nc:operation="delete">
	//         <id>0/1/10.0.0.1/7/192.0.2.1/8.0</id>
	//       </session>
	//     </sessions>
	//   </flow-state>
	// </config>
}

// Decoding <edit-config> content reports each nc:operation with the node's
// data path, which is what a NETCONF server applies.
func ExampleWithEditOperations() {
	c := exampleCodec()
	doc := `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
	  <flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions>
	    <session nc:operation="delete"><id>0/6/10.0.0.1/40000/192.0.2.1/443</id></session>
	  </sessions></flow-state></config>`
	err := c.Unmarshal([]byte(doc), &fs.Device{}, yangxml.WithEditOperations(func(op yangxml.EditOp) error {
		p, _ := ygot.PathToString(op.Path)
		fmt.Println(op.Op, p)
		return nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	// Output: delete /flow-state/sessions/session[id=0/6/10.0.0.1/40000/192.0.2.1/443]
}
