// Package sandbox runs real sami agents in-process on loopback, for the demo
// and for tests, without a testing.TB: each agent is a backend.Backend
// (usually a simulated firewall from package simfw) behind package agent,
// served over NETCONF/SSH by package netconf and over gNMI/TLS by package
// gnmiserver, on 127.0.0.1 with ephemeral ports.
//
// Everything a client needs is generated and written into a directory:
// the agent's SSH host key goes into a known_hosts file, the client's key
// into an OpenSSH private key file, the gNMI certificate (self-signed for
// 127.0.0.1 and localhost, so it is its own CA) into a PEM file, and a
// password, when the agent has one, into a password file. Agent.Config
// returns them as the device.Config of the "sami" driver; WriteInventory
// writes a whole inventory (package topology's YAML) for a set of agents
// and the locations they serve, so sami's orchestrator can drive them like
// real devices.
//
// A Sandbox groups agents under one directory and stops them all on Close.
// Package agenttest is a thin wrapper over this one for tests.
package sandbox
