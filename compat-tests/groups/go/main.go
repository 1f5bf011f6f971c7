// One member of a consumer group (franz-go, classic protocol), run as its
// own OS process by groups_test.py; the Go twin of worker.py, with the same
// JSON-lines log (see there): P before the synchronous commit of offset+1, C
// only after it succeeded, a failed commit rewinds the partition.
//
// Rebalances are held off while a polled batch is handled
// (kgo.BlockRebalanceOnPoll, released with AllowRebalance after each batch),
// which is how franz-go's documentation says to commit what was processed
// without racing a revoke.
//
// Built by run.sh with `go build` (GOTOOLCHAIN=local, franz-go pinned in
// go.mod/go.sum).
//
// Usage:
//
//	franz-worker BOOTSTRAP GROUP TOPIC ID LOG SESSION_TIMEOUT_MS HEARTBEAT_MS BALANCER MAX_SECONDS [classic]
//
// BALANCER: cooperative-sticky | sticky | range | roundrobin. The protocol
// is classic only (franz-go's KIP-848 support, kgo.ServerSideBalancer, is not
// used here). SIGTERM: finish the current record, Close() (LeaveGroup), exit
// 0. Stops by itself after MAX_SECONDS or when its parent process is gone.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	mu  sync.Mutex
	out *os.File
)

// emit writes one JSON line with a single write(2), so a SIGKILL never
// leaves half a line.
func emit(fields map[string]any) {
	fields["t"] = float64(time.Now().UnixMilli()) / 1000
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err) // only plain values are logged
	}
	mu.Lock()
	defer mu.Unlock()
	if _, err := out.Write(append(b, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "log write:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 10 || len(os.Args) > 11 || (len(os.Args) == 11 && os.Args[10] != "classic") {
		fmt.Fprintln(os.Stderr, "usage: franz-worker BOOTSTRAP GROUP TOPIC ID LOG SESSION_TIMEOUT_MS HEARTBEAT_MS BALANCER MAX_SECONDS [classic]")
		os.Exit(2)
	}
	bootstrap, group, topic, id, logPath := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	sessionMs, _ := strconv.Atoi(os.Args[6])
	heartbeatMs, _ := strconv.Atoi(os.Args[7])
	balancerName := os.Args[8]
	maxSeconds, _ := strconv.ParseFloat(os.Args[9], 64)

	var err error
	out, err = os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	var balancer kgo.GroupBalancer
	switch balancerName {
	case "cooperative-sticky":
		balancer = kgo.CooperativeStickyBalancer()
	case "sticky":
		balancer = kgo.StickyBalancer()
	case "range":
		balancer = kgo.RangeBalancer()
	case "roundrobin":
		balancer = kgo.RoundRobinBalancer()
	default:
		fmt.Fprintln(os.Stderr, "unknown balancer", balancerName)
		os.Exit(2)
	}

	// What the member owns, as its callbacks tell it; they run in the
	// client's goroutines.
	var ownedMu sync.Mutex
	owned := map[int32]bool{}
	report := func(ps []int32, add bool, why string) {
		ownedMu.Lock()
		defer ownedMu.Unlock()
		for _, p := range ps {
			if add {
				owned[p] = true
			} else {
				delete(owned, p)
			}
		}
		parts := make([]int, 0, len(owned))
		for p := range owned {
			parts = append(parts, int(p))
		}
		sort.Ints(parts)
		ev := map[string]any{"ev": "assign", "parts": parts}
		if why != "" {
			ev["why"] = why
		}
		emit(ev)
	}

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		kgo.ClientID(id),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(time.Duration(sessionMs)*time.Millisecond),
		kgo.HeartbeatInterval(time.Duration(heartbeatMs)*time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			report(m[topic], true, "")
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			report(m[topic], false, "revoke")
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			report(m[topic], false, "lost")
		}),
	)
	if err != nil {
		emit(map[string]any{"ev": "error", "err": err.Error()})
		os.Exit(1)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	stopping := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}

	emit(map[string]any{"ev": "start", "pid": os.Getpid()})
	parent := os.Getppid()
	deadline := time.Now().Add(time.Duration(maxSeconds * float64(time.Second)))
	ctx := context.Background()
loop:
	for !stopping() {
		if time.Now().After(deadline) || os.Getppid() != parent {
			emit(map[string]any{"ev": "error", "err": "stopping by itself (max-seconds or parent gone)"})
			break
		}
		pollCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fetches := cl.PollRecords(pollCtx, 50) // rebalances wait for the batch
		cancel()
		fetches.EachError(func(t string, p int32, err error) {
			if err != context.DeadlineExceeded && err != context.Canceled {
				emit(map[string]any{"ev": "error", "err": fmt.Sprintf("fetch %s-%d: %v", t, p, err)})
			}
		})
		rewound := map[int32]bool{}
		for _, r := range fetches.Records() {
			if rewound[r.Partition] {
				continue
			}
			p, o, v := r.Partition, r.Offset, string(r.Value)
			emit(map[string]any{"ev": "P", "p": p, "o": o, "v": v})
			commitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := cl.CommitRecords(commitCtx, r)
			cancel()
			if err == nil {
				emit(map[string]any{"ev": "C", "p": p, "o": o, "v": v})
			} else {
				emit(map[string]any{"ev": "commit_failed", "p": p, "o": o, "err": err.Error()})
				rewound[p] = true
				// The next poll moves the rebalance on; don't spin.
				time.Sleep(50 * time.Millisecond)
				cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {p: {Epoch: -1, Offset: o}}})
			}
			if stopping() {
				cl.AllowRebalance()
				break loop
			}
		}
		cl.AllowRebalance()
	}
	cl.Close()
	emit(map[string]any{"ev": "closed"})
	out.Close()
}
