// echo_go.go - a goroutine-per-connection echo server: Go's answer to the servers of
// demo/run_demo.sh (its optional "go" variant), as a Go programmer would write it.
//
// Usage: echo_go PORT      (PORT 0 = let the kernel pick a free port)
//
// Binds 127.0.0.1:PORT, prints exactly one line "listening on PORT" to stdout, then accepts
// forever, one goroutine per client echoing with blocking Read/Write (the runtime's netpoller
// turns them into epoll underneath). 16 KiB read buffer per client, as echo_threads' default.
// GOMAXPROCS is the runtime's default: one per CPU the process may run on (one when run_demo.sh
// pins the server to CPU 0). Go sets TCP_NODELAY on every connection, as the C servers do.
// SIGTERM/SIGINT: exit at once with status 0.
//
// Build: go build -o echo_go bench/echo_go.go   (standard library only)
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, reset
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT\n", os.Args[0])
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port < 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "echo_go: bad port '%s'\n", os.Args[1])
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo_go: %v\n", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; os.Exit(0) }()
	// os.Stdout is unbuffered: the line is out before the first Accept.
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of file descriptors and the like: back off instead of spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
