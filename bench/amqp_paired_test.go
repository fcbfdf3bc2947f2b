package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/svcclient/svcclient/bench/gen/bench/v1/benchv1svc"
	"github.com/svcclient/svcclient/runtime/amqptransport"
)

// pairedBlock is how many calls a loop of BenchmarkAMQPPaired makes before
// the next loop takes its turn.
const pairedBlock = 100

// BenchmarkAMQPPaired measures the p50 latency at 1 call in flight of
// three request/reply loops taking turns in one run, pairedBlock calls at
// a time: svcclient's client and server, the raw amqp091-go loop, and the
// raw loop with our server's guarantees (raw-amqp091-confirmed). b.N is
// the calls each loop makes; ns/op is the time of one call of each.
//
// BenchmarkAMQP runs its rows one after the other, and on two cores shared
// with the broker (and, here, with other machines' work) a row's p50 moves
// by ±20% from one run to the next, as much as the difference it is there
// to show. Taking turns in blocks puts every loop under the same
// conditions in the same seconds, so that the ratios it reports
// (svc/raw, svc/raw-confirmed) move much less than the p50s themselves.
// Blocks, not single calls: a loop's own work after a reply (the server's
// ack) then falls on its own calls, not on the next loop's.
func BenchmarkAMQPPaired(b *testing.B) {
	req := Message(100)
	for _, kind := range queueKinds {
		b.Run(fmt.Sprintf("queue=%s/size=100B/inflight=1", kind), func(b *testing.B) {
			type loop struct {
				name string
				call func(context.Context) error
				lat  []time.Duration
			}
			svc := benchv1svc.NewBenchServiceClient(svcAMQP(b, benchQueue("paired"), append(kind.serverOptions(), amqptransport.WithPrefetch(1))...))
			rawQueue, rawcQueue := benchQueue("paired-raw"), benchQueue("paired-rawc")
			rawServer(b, dialBroker(b), rawQueue, 1, kind)
			rawConfirmedServer(b, dialBroker(b), dialBroker(b), rawcQueue, 1, kind)
			raw, rawc := newRawClient(b, dialBroker(b), rawQueue), newRawClient(b, dialBroker(b), rawcQueue)
			loops := []*loop{
				{name: "svc", call: func(ctx context.Context) error { _, err := svc.Echo(ctx, req); return err }},
				{name: "raw", call: func(ctx context.Context) error { _, err := raw.Echo(ctx, req); return err }},
				{name: "rawc", call: func(ctx context.Context) error { _, err := rawc.Echo(ctx, req); return err }},
			}
			for _, l := range loops {
				warmUp(b, l.call)
				l.lat = make([]time.Duration, 0, b.N)
			}
			ctx := context.Background()
			b.ResetTimer()
			for done := 0; done < b.N; done += pairedBlock {
				for _, l := range loops {
					for i := done; i < min(done+pairedBlock, b.N); i++ {
						t := time.Now()
						if err := l.call(ctx); err != nil {
							b.Fatalf("%s: %v", l.name, err)
						}
						l.lat = append(l.lat, time.Since(t))
					}
				}
			}
			b.StopTimer()
			p50 := make(map[string]float64, len(loops))
			for _, l := range loops {
				slices.Sort(l.lat)
				p50[l.name] = float64(l.lat[len(l.lat)/2].Nanoseconds()) / 1e3
				b.ReportMetric(p50[l.name], "p50-"+l.name+"-µs")
			}
			b.ReportMetric(p50["svc"]/p50["raw"], "svc/raw")
			b.ReportMetric(p50["svc"]/p50["rawc"], "svc/rawc")
		})
	}
}
