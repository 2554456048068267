// courier-cri is the small CRI client the local cluster scripts need (crictl is
// neither packaged in Debian bookworm nor served by the Go module proxy here):
//
//	courier-cri -endpoint unix:///run/courier-cluster/containerd/containerd.sock pods
//	courier-cri -endpoint ... rm-pods     stop and remove every pod sandbox
//
// Stopping a sandbox through the CRI (not ctr) lets containerd run the CNI DEL
// of each pod: the veth, the host-local IP and the portmap rules go with it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("endpoint", "", "CRI endpoint, unix:///path")
	timeout := flag.Duration("timeout", 60*time.Second, "overall timeout")
	flag.Parse()
	if *endpoint == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: courier-cri -endpoint unix:///path {pods|rm-pods}")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+strings.TrimPrefix(*endpoint, "unix://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		fail(err)
	}
	switch flag.Arg(0) {
	case "pods":
		for _, p := range pods.Items {
			fmt.Printf("%s\t%s/%s\t%s\n", p.Id[:13], p.Metadata.Namespace, p.Metadata.Name, p.State)
		}
	case "rm-pods":
		failed := false
		for _, p := range pods.Items {
			name := p.Metadata.Namespace + "/" + p.Metadata.Name
			if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				fmt.Fprintf(os.Stderr, "stop %s: %v\n", name, err)
				failed = true
				continue
			}
			if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				fmt.Fprintf(os.Stderr, "remove %s: %v\n", name, err)
				failed = true
				continue
			}
			fmt.Printf("removed pod %s\n", name)
		}
		if failed {
			os.Exit(1)
		}
	default:
		fail(fmt.Errorf("unknown command %q", flag.Arg(0)))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "courier-cri:", err)
	os.Exit(1)
}
