// Command staying prints, for the live demo's model of a visit
// (internal/demo, Traffic.shopper), the share of the sessions that load an
// item's page first whose visit never makes a record call five seconds or
// more after its first (detect's staysFor), at several paces: the figures
// behind detect's peopleDieYoung (docs/default-policy.md).
//
//	go run ./bench/staying
package main

import (
	"fmt"
	"math/rand/v2"
	"time"
)

func main() {
	const (
		shortVisits = 0.35 // 1-4 items, 3-8 s apart
		landers     = 0.3  // land on the home page: not paged sessions
		staysFor    = 5 * time.Second
		visits      = 200_000
	)
	fmt.Println("think\tpaged sessions that never stay")
	for _, think := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second} {
		rng := rand.New(rand.NewPCG(1, 2))
		paged, never := 0, 0
		for range visits {
			short := rng.Float64() < shortVisits
			items := 3 + rng.IntN(15)
			if short {
				items = 1 + rng.IntN(4)
			}
			if rng.Float64() < landers {
				continue
			}
			var at time.Duration
			stayed := false
			for i := range items {
				if i > 0 && at >= staysFor {
					stayed = true
				}
				if short {
					at += 3*time.Second + time.Duration(rng.Int64N(int64(5*time.Second)))
				} else {
					at += time.Duration(float64(think) * (0.5 + rng.ExpFloat64()))
				}
			}
			paged++
			if !stayed {
				never++
			}
		}
		fmt.Printf("%v\t%.0f%%\n", think, 100*float64(never)/float64(paged))
	}
}
