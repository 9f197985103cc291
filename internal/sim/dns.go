package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// DNS answers reverse and forward lookups for the simulated search crawler
// as the real engine's DNS would, so the bench verifies it offline.
type DNS struct{}

func (DNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	for i := 0; i < 4; i++ {
		ip := CrawlerAddress(i)
		if addr == fmt.Sprintf("%d.%d.%d.%d", ip>>24, ip>>16&255, ip>>8&255, ip&255) {
			return []string{"crawl-" + strings.ReplaceAll(addr, ".", "-") + ".googlebot.com."}, nil
		}
	}
	return nil, errors.New("nxdomain")
}

func (DNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if rest, ok := strings.CutPrefix(host, "crawl-"); ok {
		if ip, ok := strings.CutSuffix(rest, ".googlebot.com."); ok {
			return []net.IPAddr{{IP: net.ParseIP(strings.ReplaceAll(ip, "-", "."))}}, nil
		}
	}
	return nil, errors.New("nxdomain")
}
