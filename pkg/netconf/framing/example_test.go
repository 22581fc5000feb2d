package framing_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

// A session's receive side: the hello is end-of-message framed, and once
// both peers have announced base:1.1 the rest is chunked. The chunked data
// may already be buffered when the switch happens; it is not lost.
func ExampleReader() {
	stream := strings.NewReader(
		"<hello><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>" +
			"\n#17\n<rpc message-id=\"" + "\n#15\n1\"><get/></rpc>" + "\n##\n")

	r := framing.NewReader(stream, framing.WithMaxMessageSize(64<<20))
	for {
		msg, err := r.NextMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("close the session:", err)
			return
		}
		// Real code hands msg to an xml.Decoder; it streams, so a large
		// reply is never held in memory whole.
		b, err := io.ReadAll(msg)
		if err != nil {
			fmt.Println("close the session:", err)
			return
		}
		fmt.Printf("%s\n", b)
		if bytes.HasPrefix(b, []byte("<hello>")) {
			r.SetChunked(true) // both sides speak base:1.1
		}
	}
	// Output:
	// <hello><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>
	// <rpc message-id="1"><get/></rpc>
}

// A session's send side: the hello goes out end-of-message framed, then
// the Writer switches to chunked framing.
func ExampleWriter() {
	var conn bytes.Buffer // an SSH channel in real use
	w := framing.NewWriter(&conn)

	hello := w.NewMessage()
	io.WriteString(hello, "<hello/>")
	if err := hello.Close(); err != nil {
		fmt.Println(err)
		return
	}

	w.SetChunked(true)
	rpc := w.NewMessage()
	io.WriteString(rpc, `<rpc message-id="1">`)
	io.WriteString(rpc, `<get/></rpc>`)
	if err := rpc.Close(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", conn.String())
	// Output:
	// "<hello/>]]>]]>\n#32\n<rpc message-id=\"1\"><get/></rpc>\n##\n"
}
