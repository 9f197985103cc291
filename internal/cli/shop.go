package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/leakguard/leakguard/internal/shop"
)

func runShop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("leakguard shop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "address to serve the shop on")
	users := fs.Int("users", 50000, "number of synthetic users")
	items := fs.Int("items", 20000, "number of synthetic items")
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same data")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leakguard shop [flags]\n\nServes a synthetic shop API with made-up personal data, to put leakguard in front of.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *users < 1 || *items < 1 {
		return errors.New("--users and --items must be positive")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	sh := shop.New(*seed, *users, *items)
	fmt.Fprintf(stderr, "shop: serving %d users and %d items on http://%s\n", *users, *items, ln.Addr())
	return sh.Serve(ctx, ln)
}
