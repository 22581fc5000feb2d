package datastore_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// The basic flow: edit the candidate, commit it, read running back.
func Example() {
	codec, err := flow.NewCodec()
	if err != nil {
		log.Fatal(err)
	}
	store, err := datastore.New(codec, func() ygot.GoStruct { return &flowstate.Device{} },
		datastore.WithApply(func(_ context.Context, from, to ygot.GoStruct) error {
			fmt.Println("apply: running changes")
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	const sess datastore.Session = 7
	if err := store.Lock(sess, datastore.Candidate); err != nil {
		log.Fatal(err)
	}
	config := `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state">
    <sessions>
      <session>
        <id>0/6/10.0.0.1/1000/10.0.0.2/80</id>
        <address-family>ipv4</address-family>
        <protocol>6</protocol>
        <original>
          <source-address>10.0.0.1</source-address>
          <destination-address>10.0.0.2</destination-address>
        </original>
      </session>
    </sessions>
  </flow-state>
</config>`
	if err := store.EditConfig(ctx, sess, datastore.Candidate, strings.NewReader(config), datastore.EditOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := store.Commit(ctx, sess, datastore.CommitOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := store.Unlock(sess, datastore.Candidate); err != nil {
		log.Fatal(err)
	}
	out, err := codec.Marshal(store.Get(datastore.Running, true), yangxml.Wrapper("data"), yangxml.Indent("  "))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
	// Output:
	// apply: running changes
	// <data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
	//   <flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state">
	//     <sessions>
	//       <session>
	//         <id>0/6/10.0.0.1/1000/10.0.0.2/80</id>
	//         <address-family>ipv4</address-family>
	//         <original>
	//           <destination-address>10.0.0.2</destination-address>
	//           <source-address>10.0.0.1</source-address>
	//         </original>
	//         <protocol>6</protocol>
	//       </session>
	//     </sessions>
	//   </flow-state>
	// </data>
}
