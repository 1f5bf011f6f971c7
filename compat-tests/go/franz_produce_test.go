package compat

// Produce and Fetch through franz-go: every codec x acks level, then the
// records read back with direct partition assignment.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type explicitPartition struct{}

// mixedPartitioner sends a record whose context carries explicitPartition to
// that partition, and every other record by key with franz-go's default
// key partitioner (Kafka's murmur2).
func mixedPartitioner() kgo.Partitioner {
	byKey := kgo.StickyKeyPartitioner(nil)
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		inner := byKey.ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if p, ok := r.Context.Value(explicitPartition{}).(int32); ok {
				return int(p)
			}
			return inner.Partition(r, n)
		}
	})
}

func toKgo(topic string, p planned) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: p.Key, Value: p.Value, Timestamp: p.Timestamp, Context: context.Background()}
	for _, h := range p.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	if p.Partition >= 0 {
		r.Context = context.WithValue(r.Context, explicitPartition{}, p.Partition)
	}
	return r
}

func fromKgo(r *kgo.Record) stored {
	s := stored{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		s.Headers = append(s.Headers, header{h.Key, h.Value})
	}
	return s
}

var franzCodecs = []struct {
	name  string
	codec kgo.CompressionCodec
	attr  uint8 // the batch attribute bits the records must come back with
}{
	{"none", kgo.NoCompression(), 0},
	{"gzip", kgo.GzipCompression(), 1},
	{"snappy", kgo.SnappyCompression(), 2},
	{"lz4", kgo.Lz4Compression(), 3},
	{"zstd", kgo.ZstdCompression(), 4},
}

var franzAcks = []struct {
	name string
	acks kgo.Acks
}{
	{"all", kgo.AllISRAcks()}, // franz-go's default: idempotent
	{"leader", kgo.LeaderAck()},
	{"none", kgo.NoAck()},
}

func newFranzProducer(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgoOpts(append([]kgo.Opt{
		kgo.RecordPartitioner(mixedPartitioner()),
		kgo.ProducerLinger(20 * time.Millisecond),
		kgo.ProduceRequestTimeout(opTimeout),
	}, opts...)...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// franzProduce produces recs in order and waits for all of them; it returns
// where each went and, when the acks level tells, its offset.
func franzProduce(t *testing.T, cl *kgo.Client, topic string, recs []planned, withOffsets bool) ([]int32, []int64, []*kgo.Record) {
	t.Helper()
	krs := make([]*kgo.Record, len(recs))
	for i, p := range recs {
		krs[i] = toKgo(topic, p)
	}
	results := cl.ProduceSync(ctxT(t, opTimeout), krs...)
	if err := results.FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	parts := make([]int32, len(recs))
	var offsets []int64
	if withOffsets {
		offsets = make([]int64, len(recs))
	}
	// ProduceSync's results come in completion order; the records themselves
	// were filled in place.
	for i, r := range krs {
		parts[i] = r.Partition
		if withOffsets {
			offsets[i] = r.Offset
		}
	}
	return parts, offsets, krs
}

// franzConsume reads exactly n records from the start of partitions 0..nparts-1,
// failing on any fetch error or when they do not arrive in time.
func franzConsume(t *testing.T, topic string, nparts int32, n int) []*kgo.Record {
	t.Helper()
	at := map[int32]kgo.Offset{}
	for p := range nparts {
		at[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgoOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), consumeTimeout)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records within %s", len(recs), n, consumeTimeout)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch error on %s/%d: %v", topic, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// checkEndOffsets checks ListOffsets: every partition starts at 0 and ends
// after as many records as the producer put there.
func checkEndOffsets(t *testing.T, adm *kadm.Client, topic string, nparts int32, parts []int32) {
	t.Helper()
	want := map[int32]int64{}
	for p := range nparts {
		want[p] = 0
	}
	for _, p := range parts {
		want[p]++
	}
	starts, err := adm.ListStartOffsets(ctxT(t, opTimeout), topic)
	if err != nil {
		t.Fatalf("ListStartOffsets: %v", err)
	}
	ends, err := adm.ListEndOffsets(ctxT(t, opTimeout), topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	for p, n := range want {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		if s.Err != nil || e.Err != nil || s.Offset != 0 || e.Offset != n {
			t.Errorf("partition %d: start=%d (%v) end=%d (%v), want 0 and %d", p, s.Offset, s.Err, e.Offset, e.Err, n)
		}
	}
}

func TestFranzProduceThenConsumeReturnsSameRecordsInOrder(t *testing.T) {
	for _, codec := range franzCodecs {
		for _, acks := range franzAcks {
			t.Run(codec.name+"/acks-"+acks.name, func(t *testing.T) {
				adm := newAdmin(t)
				topic := createTopic(t, adm, fmt.Sprintf("franz-pc-%s-%s", codec.name, acks.name), partitions)
				opts := []kgo.Opt{kgo.ProducerBatchCompression(codec.codec), kgo.RequiredAcks(acks.acks)}
				idempotent := acks.name == "all"
				if !idempotent {
					opts = append(opts, kgo.DisableIdempotentWrite()) // franz-go requires it below acks=all
				}
				cl := newFranzProducer(t, opts...)
				recs := plannedRecords()
				parts, offsets, _ := franzProduce(t, cl, topic, recs, acks.name != "none")

				got := franzConsume(t, topic, partitions, totalRecords)
				var ss []stored
				compressed := false
				for _, r := range got {
					ss = append(ss, fromKgo(r))
					if r.Topic != topic {
						t.Errorf("record from topic %q, want %q", r.Topic, topic)
					}
					if r.Attrs.TimestampType() != 0 {
						t.Errorf("%v: timestamp type %d, want 0 (CreateTime)", fromKgo(r), r.Attrs.TimestampType())
					}
					// franz-go sends a batch uncompressed when compressing would not
					// shrink it; a compressed one must come back with the same codec.
					switch c := r.Attrs.CompressionType(); {
					case c == codec.attr && c != 0:
						compressed = true
					case c != 0:
						t.Errorf("%v: came back in a batch with codec %d, produced with %d", fromKgo(r), c, codec.attr)
					}
					if idempotent && r.ProducerID < 0 {
						t.Errorf("%v: producer id %d from an idempotent producer", fromKgo(r), r.ProducerID)
					}
					if !idempotent && r.ProducerID != -1 {
						t.Errorf("%v: producer id %d from a non-idempotent producer, want -1", fromKgo(r), r.ProducerID)
					}
				}
				if codec.attr != 0 && !compressed {
					t.Errorf("no record came back in a %s batch", codec.name)
				}
				checkRoundTrip(t, recs, parts, offsets, ss)
				checkEndOffsets(t, adm, topic, partitions, parts)
			})
		}
	}
}

func TestFranzNullAndEmptyKeysAndValuesStayDistinct(t *testing.T) {
	for _, codec := range []string{"none", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			adm := newAdmin(t)
			topic := createTopic(t, adm, "franz-nulls-"+codec, 1)
			c := kgo.NoCompression()
			if codec == "zstd" {
				c = kgo.ZstdCompression()
			}
			cl := newFranzProducer(t, kgo.ProducerBatchCompression(c))
			var recs []planned
			for i, kv := range nullAndEmpty {
				recs = append(recs, planned{Partition: 0, Key: kv[0], Value: kv[1], Timestamp: baseTS.Add(time.Duration(i) * time.Millisecond)})
			}
			parts, offsets, _ := franzProduce(t, cl, topic, recs, true)
			got := franzConsume(t, topic, 1, len(recs))
			var ss []stored
			for _, r := range got {
				ss = append(ss, fromKgo(r))
			}
			checkRoundTrip(t, recs, parts, offsets, ss)
		})
	}
}

// Many small batches in flight at once from franz-go's default (idempotent)
// producer: every record lands exactly once, in order, under one producer id
// and epoch, on the records returned and on those stored.
func TestFranzIdempotentProducerManyBatchesExactlyOnceInOrder(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-idem", 2)
	cl := newFranzProducer(t,
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(1024), // many batches
	)
	const n = 2000
	var recs []planned
	for i := range n {
		recs = append(recs, planned{Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Timestamp: baseTS.Add(time.Duration(i) * time.Millisecond)})
	}
	parts, offsets, krs := franzProduce(t, cl, topic, recs, true)
	pid := krs[0].ProducerID
	if pid < 0 {
		t.Fatalf("idempotent producer got producer id %d", pid)
	}
	for _, r := range krs {
		if r.ProducerID != pid {
			t.Fatalf("produced records carry producer ids %d and %d", pid, r.ProducerID)
		}
	}
	got := franzConsume(t, topic, 2, n)
	var ss []stored
	for _, r := range got {
		ss = append(ss, fromKgo(r))
		if r.ProducerID != pid || r.ProducerEpoch != krs[0].ProducerEpoch {
			t.Fatalf("%v: stored with producer %d epoch %d, want %d epoch %d", fromKgo(r), r.ProducerID, r.ProducerEpoch, pid, krs[0].ProducerEpoch)
		}
	}
	checkRoundTrip(t, recs, parts, offsets, ss)
	checkEndOffsets(t, adm, topic, 2, parts)
}
