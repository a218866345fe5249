package protocol_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"tentacle/protocol"
)

// A server that stores files in a directory, with Pandora's filters, and a
// client that sends it a file and takes it back.
func Example() {
	dir, err := os.MkdirTemp("", "tentacle-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	storage, err := protocol.OpenDirStorage(dir)
	if err != nil {
		log.Fatal(err)
	}
	filters, err := protocol.ParseFilters(protocol.PandoraFilters)
	if err != nil {
		log.Fatal(err)
	}
	srv := &protocol.Server{Storage: storage, Filters: filters, Password: "s3cret"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	c, err := protocol.Dial(l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Auth("s3cret"); err != nil {
		log.Fatal(err)
	}
	data := "<agent_data/>"
	if err := c.Send("agent.1.data", strings.NewReader(data), int64(len(data))); err != nil {
		log.Fatal(err)
	}
	var back bytes.Buffer
	if _, err := c.Recv("agent.1.data", &back); err != nil {
		log.Fatal(err)
	}
	c.Quit()
	fmt.Println(back.String())
	// Output: <agent_data/>
}

// Refusals are values: a caller can tell "already there" from a failure.
func ExampleClient_Send_refused() {
	dir, err := os.MkdirTemp("", "tentacle-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	storage, err := protocol.OpenDirStorage(dir)
	if err != nil {
		log.Fatal(err)
	}
	srv := &protocol.Server{Storage: storage}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	c, err := protocol.Dial(l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Quit()
	if err := c.Send("a.data", strings.NewReader("1"), 1); err != nil {
		log.Fatal(err)
	}
	err = c.Send("a.data", strings.NewReader("2"), 1)
	fmt.Println(errors.Is(err, protocol.ErrExists), err)
	// Output: true server responded SEND ERR (file already exists)
}

// A client that reaches the server through an HTTP proxy with CONNECT, the
// way agents behind a web proxy do (tentacle_client -y).
func ExampleDialer() {
	d := protocol.Dialer{
		Timeout: 4 * time.Second,
		Proxy:   &protocol.HTTPProxy{Addr: "proxy.example:3128", User: "agent", Password: "pw"},
	}
	_ = func() error {
		c, err := d.Dial(context.Background(), "pandora.example:41121")
		if err != nil {
			return err
		}
		return c.Quit()
	}
	fmt.Println("configured")
	// Output: configured
}

// Graceful stop: no new connections, transfers in flight finish.
func ExampleServer_Shutdown() {
	dir, err := os.MkdirTemp("", "tentacle-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	storage, err := protocol.OpenDirStorage(dir)
	if err != nil {
		log.Fatal(err)
	}
	srv := &protocol.Server{Storage: storage}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx), <-served)
	// Output: <nil> tentacle: server closed
}
