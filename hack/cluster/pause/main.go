// pause is the pod sandbox ("infra") container of the local cluster
// (hack/cluster-up.sh): nothing can be pulled on this machine, so the usual
// registry.k8s.io/pause image is replaced by this program, built with
// CGO_ENABLED=0 into a static binary and packed into an OCI image by
// hack/cluster/images.sh.
//
// Like the upstream pause (build/pause/linux/pause.c) it holds the pod's
// namespaces, reaps zombies when it is PID 1 of a shared PID namespace, and
// exits 0 on SIGINT or SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("pause (courier local cluster)\n")
		return
	}
	if os.Getpid() != 1 {
		os.Stderr.WriteString("Warning: pause should be the first process\n")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Stderr.WriteString("Shutting down, got signal\n")
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
