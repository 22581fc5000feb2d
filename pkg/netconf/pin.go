//go:build tools

// The NETCONF client and server (issue 3) are built on these; the build tag
// keeps them pinned in go.mod (ygot, goyang and gnmi are already imported).
package netconf

import (
	_ "github.com/Juniper/go-netconf/netconf"
	_ "golang.org/x/crypto/ssh"
)
