package ratstls_test

import (
	"context"
	"fmt"
	"io"
	"log"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/ratstls"
)

// A server that attests with the best attester available here and a client
// that accepts it. On a machine without a TEE the best attester is the null
// attester, so the client must name the null verifier to accept it.
func Example() {
	ctx := context.Background()
	server := &ratstls.Config{}
	defer server.Close()
	l, err := ratstls.Listen(ctx, "tcp", "127.0.0.1:0", server)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo
	}()

	client := &ratstls.Config{Verifier: "nullverifier"}
	defer client.Close()
	c, err := ratstls.Dial(ctx, "tcp", l.Addr().String(), client)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	buf := make([]byte, 6)
	io.ReadFull(c, buf)
	p := c.Peer()
	fmt.Printf("%q attested=%v verifier=%s\n", buf, p.Attested, p.Verifier)
	// Output: "hello\n" attested=false verifier=nullverifier
}
