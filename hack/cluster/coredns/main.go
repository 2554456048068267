// A CoreDNS with only the plugins the local cluster's Corefile uses
// (hack/cluster/templates/coredns.yaml; no forward: nothing upstream is
// reachable from pods here), built from the github.com/coredns/coredns
// Go module by hack/cluster-up.sh (CLUSTER_DNS=1) and packed into a local
// image: nothing can be pulled on this machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func init() {
	// Only the directives compiled in, in CoreDNS's own order.
	dnsserver.Directives = []string{
		"reload", "health", "ready", "errors", "log", "loadbalance", "cache", "kubernetes",
	}
}

func main() { coremain.Run() }
