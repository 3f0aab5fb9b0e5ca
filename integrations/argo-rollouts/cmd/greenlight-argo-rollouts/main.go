// Command greenlight-argo-rollouts is greenlight's Argo Rollouts metric provider plugin. The
// Argo Rollouts controller runs it (argo-rollouts-config, metricProviderPlugins) and talks to it
// over net/rpc; run by hand, it says so and exits. See docs/integrations/argo-rollouts.md.
package main

import (
	"log/slog"
	"os"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/argoproj/argo-rollouts/metricproviders/plugin/rpc"

	"github.com/greenlight/greenlight/integrations/argo-rollouts/provider"
)

// handshake must match the Argo Rollouts controller's for metric provider plugins.
var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "metricprovider",
}

func main() {
	// Standard error reaches the controller's log through go-plugin.
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("plugin", provider.Name)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins: map[string]goplugin.Plugin{
			"RpcMetricProviderPlugin": &rpc.RpcMetricProviderPlugin{Impl: provider.New(log)},
		},
	})
}
