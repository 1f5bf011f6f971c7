// Package compat runs real Go Kafka clients (franz-go with kadm, and IBM
// sarama) against the broker named by KAFKA_BOOTSTRAP. Every test must pass
// against Apache Kafka 4.4.0 first; that makes its expectations Kafka's own.
//
// Consumers use direct partition assignment only (kgo.ConsumePartitions,
// sarama Consumer.ConsumePartition): no consumer groups.
package compat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds for every wait. Generous: they only end a broken run.
const (
	opTimeout      = 15 * time.Second
	consumeTimeout = 20 * time.Second
)

// A day back: inside any broker's allowed timestamp window, and unlike
// "now" on every run.
var baseTS = time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)

func TestMain(m *testing.M) {
	bs := os.Getenv("KAFKA_BOOTSTRAP")
	if bs == "" {
		fmt.Fprintln(os.Stderr, "KAFKA_BOOTSTRAP is not set: point it at the broker under test, "+
			"e.g. KAFKA_BOOTSTRAP=127.0.0.1:19092 (compat-tests/go/run.sh reads it)")
		os.Exit(2)
	}
	// Fail the run at once, not test by test, when no broker answers.
	cl, err := kgo.NewClient(kgoOpts()...)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
		cancel()
		cl.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "no Kafka-compatible broker answers at %s: %v\n", bs, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func seeds() []string { return strings.Split(os.Getenv("KAFKA_BOOTSTRAP"), ",") }

// kgoOpts are the options every franz-go client here starts from; KGO_LOG=debug
// (or info, warn) logs what the clients do to stderr.
func kgoOpts(opts ...kgo.Opt) []kgo.Opt {
	base := []kgo.Opt{kgo.SeedBrokers(seeds()...)}
	if lvl, ok := map[string]kgo.LogLevel{
		"error": kgo.LogLevelError, "warn": kgo.LogLevelWarn, "info": kgo.LogLevelInfo, "debug": kgo.LogLevelDebug,
	}[os.Getenv("KGO_LOG")]; ok {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, lvl, nil)))
	}
	return append(base, opts...)
}

// uniqueTopic is a topic name no earlier run used, so reruns never collide.
func uniqueTopic(prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "compat-go-" + prefix + "-" + hex.EncodeToString(b)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newAdmin is a kadm client over a kgo client that never auto-creates topics.
// kadm answers Metadata from the client's cache, refreshed when older than
// MetadataMinAge (5s by default); 200ms keeps the waits below short.
func newAdmin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgoOpts(kgo.RequestTimeoutOverhead(opTimeout), kgo.MetadataMinAge(200*time.Millisecond))...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func waitFor(t *testing.T, what string, timeout time.Duration, pred func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := pred()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createTopic creates topic with kadm, waits until every partition has a
// leader in Metadata and answers ListOffsets, and deletes it after the test.
//
// The ListOffsets wait matters: Kafka lists a new topic's leader a few
// milliseconds before the partition's log exists; an acks=0 produce in that
// window is dropped (the broker closes the connection).
func createTopic(t *testing.T, adm *kadm.Client, prefix string, partitions int32) string {
	t.Helper()
	topic := uniqueTopic(prefix)
	if _, err := adm.CreateTopic(ctxT(t, opTimeout), partitions, 1, nil, topic); err != nil {
		t.Fatalf("CreateTopic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, topic) // cleanup only; a test may have deleted it
	})
	waitServing(t, adm, topic, partitions)
	return topic
}

func waitServing(t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to have %d partitions with leaders", topic, partitions), opTimeout, func() (bool, string) {
		md, err := adm.Metadata(ctxT(t, opTimeout), topic)
		if err != nil {
			return false, err.Error()
		}
		td, ok := md.Topics[topic]
		if !ok || td.Err != nil || int32(len(td.Partitions)) != partitions {
			return false, fmt.Sprintf("%+v", td)
		}
		for _, p := range td.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false, fmt.Sprintf("%+v", p)
			}
		}
		return true, ""
	})
	waitFor(t, fmt.Sprintf("every partition of %s to answer ListOffsets", topic), opTimeout, func() (bool, string) {
		lo, err := adm.ListEndOffsets(ctxT(t, opTimeout), topic)
		if err != nil {
			return false, err.Error()
		}
		n := int32(0)
		for _, o := range lo[topic] {
			if o.Err != nil {
				return false, fmt.Sprintf("partition %d: %v", o.Partition, o.Err)
			}
			n++
		}
		return n == partitions, fmt.Sprintf("%d of %d partitions listed", n, partitions)
	})
}

// ---------------------------------------------------------------------------
// The records every produce/consume round trip sends.

const (
	partitions           = 3
	explicitPerPartition = 8
	perKey               = 4
	numKeys              = 6
	totalRecords         = partitions*explicitPerPartition + numKeys*perKey
)

type header struct {
	Key   string
	Value []byte // nil is a null header value
}

// planned is one record to produce: Partition -1 means "by key".
type planned struct {
	Partition int32
	Key       []byte
	Value     []byte
	Headers   []header
	Timestamp time.Time
}

// stored is one record as a consumer saw it.
type stored struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []header
	Timestamp time.Time
}

func headersFor(i int) []header {
	if i%5 == 0 {
		return nil // no headers at all
	}
	// Repeated keys keep their order; a header value may be null or empty.
	return []header{
		{"idx", []byte(fmt.Sprint(i))},
		{"dup", []byte("first")},
		{"dup", []byte("second")},
		{"nullval", nil},
		{"emptyval", []byte{}},
	}
}

func plannedRecords() []planned {
	var recs []planned
	i := 0
	for range explicitPerPartition {
		for p := range int32(partitions) {
			recs = append(recs, planned{
				Partition: p,
				Key:       []byte(fmt.Sprintf("k%d", i)),
				Value:     []byte(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i*7))),
				Headers:   headersFor(i),
				Timestamp: baseTS.Add(time.Duration(i) * time.Millisecond),
			})
			i++
		}
	}
	for range perKey {
		for k := range numKeys {
			key := fmt.Sprintf("key-%d", k)
			recs = append(recs, planned{
				Partition: -1,
				Key:       []byte(key),
				Value:     []byte(fmt.Sprintf("value-%d-%s", i, key)),
				Headers:   headersFor(i),
				Timestamp: baseTS.Add(time.Duration(i) * time.Millisecond),
			})
			i++
		}
	}
	return recs
}

// nullAndEmpty are key/value pairs where null and empty must stay distinct.
var nullAndEmpty = [][2][]byte{
	{nil, []byte("value-with-null-key")},
	{{}, []byte("value-with-empty-key")},
	{[]byte("key-with-null-value"), nil},
	{[]byte("key-with-empty-value"), {}},
	{nil, nil},
	{{}, {}},
}

func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func sameHeaders(a, b []header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !sameBytes(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func showBytes(b []byte) string {
	if b == nil {
		return "<null>"
	}
	if len(b) > 40 {
		return fmt.Sprintf("%q...(%d bytes)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func (s stored) String() string {
	var hs []string
	for _, h := range s.Headers {
		hs = append(hs, h.Key+"="+showBytes(h.Value))
	}
	return fmt.Sprintf("p%d@%d key=%s value=%s headers=[%s] ts=%d", s.Partition, s.Offset,
		showBytes(s.Key), showBytes(s.Value), strings.Join(hs, " "), s.Timestamp.UnixMilli())
}

// checkRoundTrip compares what was consumed against what was produced:
// partitions is where each planned record went (from the producer), offsets
// the offsets the producer reported (nil when it could not know them, acks=0).
// Each partition must hold its records in produce order from offset 0.
func checkRoundTrip(t *testing.T, recs []planned, parts []int32, offsets []int64, got []stored) {
	t.Helper()
	// The same key always goes to the same partition.
	keyParts := map[string]int32{}
	for i, r := range recs {
		if r.Partition >= 0 {
			if parts[i] != r.Partition {
				t.Errorf("record %d asked for partition %d, went to %d", i, r.Partition, parts[i])
			}
			continue
		}
		if p, ok := keyParts[string(r.Key)]; ok && p != parts[i] {
			t.Errorf("key %q went to partitions %d and %d", r.Key, p, parts[i])
		}
		keyParts[string(r.Key)] = parts[i]
	}

	expected := map[int32][]stored{}
	for i, r := range recs {
		p := parts[i]
		expected[p] = append(expected[p], stored{
			Partition: p, Offset: int64(len(expected[p])),
			Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp,
		})
		if offsets != nil && offsets[i] != int64(len(expected[p])-1) {
			t.Errorf("record %d: producer reported offset %d in partition %d, want %d", i, offsets[i], p, len(expected[p])-1)
		}
	}
	byPart := map[int32][]stored{}
	for _, s := range got {
		byPart[s.Partition] = append(byPart[s.Partition], s)
	}
	var ps []int32
	for p := range expected {
		ps = append(ps, p)
	}
	for p := range byPart {
		if _, ok := expected[p]; !ok {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for _, p := range ps {
		want, have := expected[p], byPart[p]
		for i := 0; i < max(len(want), len(have)); i++ {
			switch {
			case i >= len(have):
				t.Errorf("partition %d: missing %v", p, want[i])
			case i >= len(want):
				t.Errorf("partition %d: unexpected %v", p, have[i])
			default:
				w, h := want[i], have[i]
				if w.Offset != h.Offset || !sameBytes(w.Key, h.Key) || !sameBytes(w.Value, h.Value) ||
					!sameHeaders(w.Headers, h.Headers) || !w.Timestamp.Equal(h.Timestamp) {
					t.Errorf("partition %d record %d:\n  want %v\n  got  %v", p, i, w, h)
				}
			}
		}
	}
}
