package fleet_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cdrvault/cdrvault/fleet"
	"github.com/cdrvault/cdrvault/internal/natstest"
)

// BenchmarkPublishToRecord measures a contact erasure from Publish to a
// complete fleet record, one at a time, on one embedded server.
func BenchmarkPublishToRecord(b *testing.B) {
	for _, stores := range []int{3, 20} {
		b.Run(fmt.Sprintf("stores=%d", stores), func(b *testing.B) {
			srv, err := natstest.Run(b.TempDir())
			require.NoError(b, err)
			defer srv.Kill()
			h := newHarness(b, srv.URL(), fleet.Config{})
			for i := range stores {
				h.addNode(fmt.Sprintf("n%02d", i), contactRecords(fmt.Sprintf("n%02d", i), 5)...)
			}
			var lat []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				corr := h.publish(erase(fmt.Sprintf("bench-%d", i)))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				rec, err := h.is.Wait(ctx, corr, 2*time.Millisecond)
				cancel()
				require.NoError(b, err)
				require.True(b, rec.Complete())
				lat = append(lat, time.Since(start))
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkCatchUp measures one node applying a backlog: commands
// published while it was down, applied in order once it starts.
func BenchmarkCatchUp(b *testing.B) {
	for _, backlog := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			srv, err := natstest.Run(b.TempDir())
			require.NoError(b, err)
			defer srv.Kill()
			for b.Loop() {
				name := fmt.Sprintf("S%d", time.Now().UnixNano())
				h := newHarness(b, srv.URL(), fleet.Config{Stream: name, Bucket: name, Subject: "cmd." + name})
				h.addNode("n", contactRecords("n", 5)...)
				require.NoError(b, h.stop("n"))
				var last string
				for i := range backlog {
					last = h.publish(erase(fmt.Sprintf("backlog-%d", i)))
				}
				start := time.Now()
				h.start("n", nil)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				rec, err := h.is.Wait(ctx, last, 5*time.Millisecond)
				cancel()
				require.NoError(b, err)
				require.True(b, rec.Complete())
				elapsed := time.Since(start)
				b.ReportMetric(float64(backlog)/elapsed.Seconds(), "applies/s")
				b.ReportMetric(elapsed.Seconds(), "catch-up-s")
				require.NoError(b, h.stop("n"))
			}
		})
	}
}

// BenchmarkLeaderKillStall measures the longest publish while the stream
// leader of a 3-server cluster is killed: the publishing stall.
func BenchmarkLeaderKillStall(b *testing.B) {
	for b.Loop() {
		c, err := natstest.RunCluster(b.TempDir(), 3)
		require.NoError(b, err)
		h := newHarness(b, c.URLs(), fleet.Config{Replicas: 3, CallTimeout: 2 * time.Second})
		var worst time.Duration
		for i := range 40 {
			if i == 10 {
				c.Servers[c.StreamLeader(fleet.DefaultStream)].Kill()
			}
			start := time.Now()
			h.publish(erase(fmt.Sprintf("stall-%d", i)))
			worst = max(worst, time.Since(start))
		}
		b.ReportMetric(float64(worst.Milliseconds()), "stall-ms")
		c.Shutdown()
	}
}
