// Command probeserver is the target of the probe benchmark: target.Server listening on one or
// more loopback addresses (blue and green, say), all in one process so that the benchmark can
// read one process's CPU time and timings. It prints each base URL on its own line on stdout,
// so a caller can pass port 0 and read back the ports chosen.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
)

func main() {
	addrs := flag.String("addr", "127.0.0.1:0,127.0.0.1:0", "comma-separated listen addresses (port 0 picks a free port)")
	flag.Parse()

	h := &target.Server{}
	errc := make(chan error, 1)
	for _, a := range strings.Split(*addrs, ",") {
		ln, err := net.Listen("tcp", strings.TrimSpace(a))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("http://%s\n", ln.Addr())
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() { errc <- srv.Serve(ln) }()
	}
	_ = os.Stdout.Sync()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
