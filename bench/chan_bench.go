// chan_bench: Go's channels, the reference for core_bench's channel part (bench/run.sh runs it
// with GOMAXPROCS=1, one OS thread as one hub, when Go is installed). The same programs:
// two goroutines ping-pong over two unbuffered channels (ns per one-way message); a producer
// sends into 8 unbuffered channels in turn and the consumer takes each item with a select over
// all 8 (ns per item). Best of 5 runs each. Prints "RESULT channel.go_ns X" and
// "RESULT select8.go_ns Y".
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func pingpong(n int) float64 {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			pong <- (<-ping) + 1
		}
	}()
	t0 := time.Now()
	v := 0
	for i := 0; i < n; i++ {
		ping <- v
		v = <-pong
	}
	d := time.Since(t0)
	if v != n {
		fmt.Fprintln(os.Stderr, "chan_bench: ping-pong lost a value")
	}
	return float64(d.Nanoseconds()) / float64(2*n)
}

func select8(n int) float64 {
	var c [8]chan int
	for i := range c {
		c[i] = make(chan int)
	}
	go func() {
		for i := 0; i < n; i++ {
			c[i%8] <- i
		}
	}()
	sum := 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		select {
		case v := <-c[0]:
			sum += v
		case v := <-c[1]:
			sum += v
		case v := <-c[2]:
			sum += v
		case v := <-c[3]:
			sum += v
		case v := <-c[4]:
			sum += v
		case v := <-c[5]:
			sum += v
		case v := <-c[6]:
			sum += v
		case v := <-c[7]:
			sum += v
		}
	}
	d := time.Since(t0)
	if sum != n*(n-1)/2 {
		fmt.Fprintln(os.Stderr, "chan_bench: select lost an item")
	}
	return float64(d.Nanoseconds()) / float64(n)
}

func main() {
	scale := 1.0
	if s, err := strconv.ParseFloat(os.Getenv("BENCH_SCALE"), 64); err == nil && s > 0 {
		scale = s
	}
	iters := func(base float64) int { return max(1000, int(base*scale)) }
	pingpong(iters(1e5))
	select8(iters(1e5))
	p, s := 1e300, 1e300
	for r := 0; r < 5; r++ {
		p = min(p, pingpong(iters(1e6)))
		s = min(s, select8(iters(5e5)))
	}
	fmt.Printf("RESULT channel.go_ns %.6g\nRESULT select8.go_ns %.6g\n", p, s)
}

func min(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
