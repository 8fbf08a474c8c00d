package plugin

import (
	"context"
	"errors"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/inclavare/inclavare/framework/instance"
)

// ProtocolVersion is the plugin protocol version (go-plugin
// VersionedPlugins). It changes only when the services in
// framework/plugin/proto change incompatibly.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake: a plugin started by anything but a
// Rats-TLS host refuses to run, and a host refuses anything that is not a
// Rats-TLS plugin.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RATS_TLS_PLUGIN",
	MagicCookieValue: "c0a4e1f8-rats-tls-plugin-protocol",
}

// Environment variables the host sets for a plugin process.
const (
	// envHostPID is the host's PID: the plugin exits when its parent is no
	// longer that process.
	envHostPID = "RATS_TLS_PLUGIN_HOST_PID"
	// envLogLevel is the lowest level the host logs (trace, debug, info,
	// warn, error), so that the plugin does not write lines the host drops.
	envLogLevel = "RATS_TLS_PLUGIN_LOG_LEVEL"
)

// maxMessageSize bounds every message in either direction: evidence and
// endorsements are far smaller, and anything larger is garbage.
const maxMessageSize = 64 << 20

// grpcPlugin is the go-plugin glue for every kind: the plugin side registers
// its kind's service, the host side receives the raw connection and builds
// the kind's client on it.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	register func(*grpc.Server)
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.register == nil {
		return errors.New("rats-tls plugin: no service to serve")
	}
	p.register(s)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

// hostPlugins is what a host can dispense: one entry per kind.
func hostPlugins() map[int]goplugin.PluginSet {
	set := goplugin.PluginSet{}
	for _, k := range instance.Kinds {
		set[string(k)] = &grpcPlugin{}
	}
	return map[int]goplugin.PluginSet{ProtocolVersion: set}
}
