package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record value layout (big-endian), so any record read back names its sender
// and proves its own integrity:
//
//	0..4    "STRT"
//	4..6    producer index
//	6..14   sequence number within that producer (0, 1, 2, ...)
//	14..18  length n of the random filler
//	18..18+n  filler from the producer's seeded generator
//	then 32 bytes: SHA-256 of everything before it
const (
	valueMagic  = "STRT"
	valueHeader = 18
)

func makeValue(producer int, seq uint64, rng *rand.Rand, minFill, maxFill int) []byte {
	n := minFill
	if maxFill > minFill {
		n += rng.IntN(maxFill - minFill + 1)
	}
	v := make([]byte, valueHeader+n+sha256.Size)
	copy(v, valueMagic)
	binary.BigEndian.PutUint16(v[4:], uint16(producer))
	binary.BigEndian.PutUint64(v[6:], seq)
	binary.BigEndian.PutUint32(v[14:], uint32(n))
	for i := valueHeader; i < valueHeader+n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(v[i:valueHeader+n], w[:])
	}
	sum := sha256.Sum256(v[:valueHeader+n])
	copy(v[valueHeader+n:], sum[:])
	return v
}

// parseValue returns the sender of a value whose checksum holds.
func parseValue(v []byte) (producer int, seq uint64, ok bool) {
	if len(v) < valueHeader+sha256.Size || string(v[:4]) != valueMagic {
		return 0, 0, false
	}
	n := int(binary.BigEndian.Uint32(v[14:]))
	if len(v) != valueHeader+n+sha256.Size {
		return 0, 0, false
	}
	sum := sha256.Sum256(v[:valueHeader+n])
	if string(sum[:]) != string(v[valueHeader+n:]) {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint16(v[4:])), binary.BigEndian.Uint64(v[6:]), true
}

// valueHash identifies a value byte for byte (the first 8 bytes of its SHA-256).
func valueHash(v []byte) uint64 {
	s := sha256.Sum256(v)
	return binary.BigEndian.Uint64(s[:8])
}

// Outcome of a sent record, as the client reported it.
const (
	pending uint8 = iota // no answer yet
	acked                // the broker acknowledged it: it must be there, once
	failed               // the client gave up: it may be there at most once
)

type sentRecord struct {
	topic     uint8 // index into ledger.topics
	state     uint8
	partition int32
	offset    int64 // when acked
	hash      uint64
}

// ledger holds every record each producer handed to its client and what
// became of it.
type ledger struct {
	topics []string
	mu     sync.Mutex
	sent   [][]sentRecord // [producer][seq]
	errs   map[string]int // why records failed, for the summary
}

func newLedger(producers int, topics ...string) *ledger {
	return &ledger{topics: topics, sent: make([][]sentRecord, producers), errs: map[string]int{}}
}

func (l *ledger) topicIndex(name string) int {
	for i, t := range l.topics {
		if t == name {
			return i
		}
	}
	panic("unknown topic " + name)
}

// add notes a record about to be produced; it returns its sequence number.
func (l *ledger) add(producer int, topic int, partition int32, value []byte) {
	l.mu.Lock()
	l.sent[producer] = append(l.sent[producer], sentRecord{topic: uint8(topic), partition: partition, hash: valueHash(value)})
	l.mu.Unlock()
}

func (l *ledger) resolve(producer int, seq uint64, r *kgo.Record, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.sent[producer][seq]
	if err != nil {
		s.state = failed
		l.errs[err.Error()]++
		return
	}
	s.state = acked
	s.offset = r.Offset
	if r.Partition != s.partition {
		panic(fmt.Sprintf("record acked on partition %d, sent to %d", r.Partition, s.partition))
	}
}

type ledgerCounts struct{ sent, acked, failed, pending int }

func (l *ledger) counts() ledgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c ledgerCounts
	for _, recs := range l.sent {
		for _, r := range recs {
			c.sent++
			switch r.state {
			case acked:
				c.acked++
			case failed:
				c.failed++
			default:
				c.pending++
			}
		}
	}
	return c
}

// maxAcked is, per topic and partition, the highest acknowledged offset.
func (l *ledger) maxAcked() map[string]map[int32]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[int32]int64{}
	for _, recs := range l.sent {
		for _, r := range recs {
			if r.state != acked {
				continue
			}
			t := l.topics[r.topic]
			if out[t] == nil {
				out[t] = map[int32]int64{}
			}
			if cur, ok := out[t][r.partition]; !ok || r.offset > cur {
				out[t][r.partition] = r.offset
			}
		}
	}
	return out
}

// stored is a record as read back: where it was and what its value said
// (the value itself is not kept, so a long run's read-back stays small).
type stored struct {
	offset   int64
	producer int
	seq      uint64
	valid    bool // the value is well formed and its checksum holds
	size     int
	hash     uint64
}

func newStored(offset int64, value []byte) stored {
	producer, seq, ok := parseValue(value)
	return stored{offset: offset, producer: producer, seq: seq, valid: ok, size: len(value), hash: valueHash(value)}
}

// verdict counts what a read-back of one topic found against the ledger.
type verdict struct {
	topic      string
	acked      int // acknowledged records the check covers
	present    int // of those, found at their offset with their bytes
	lost       int // acknowledged, not there (at or above the log start)
	duplicated int // extra copies of a record
	phantom    int // well-formed values nobody sent (or sent elsewhere)
	corrupt    int // values whose checksum fails, or bytes differing from what was sent
	moved      int // acknowledged records found at another offset
	reordered  int // a producer's records out of sequence order in a partition
	gaps       int // offsets missing between the log start and the end
	belowStart int // acknowledged records below the log start (retention removed them)
	unacked    int // records stored that were never acknowledged (allowed, once)
	examples   []string
}

func (v *verdict) note(format string, args ...any) {
	if len(v.examples) < 20 {
		v.examples = append(v.examples, fmt.Sprintf(format, args...))
	}
}

func (v *verdict) bad() bool {
	return v.lost+v.duplicated+v.phantom+v.corrupt+v.moved+v.reordered+v.gaps > 0
}

func (v *verdict) String() string {
	return fmt.Sprintf("%s: acked %d, present %d, lost %d, duplicated %d, phantom %d, corrupt %d, moved %d, reordered %d, gaps %d, removed by retention %d, stored unacked %d",
		v.topic, v.acked, v.present, v.lost, v.duplicated, v.phantom, v.corrupt, v.moved, v.reordered, v.gaps, v.belowStart, v.unacked)
}

// check compares what one topic holds (records per partition, in offset
// order, and each partition's log start and end) with the ledger. Every
// acknowledged record at or above the log start must be present exactly
// once, at its offset, byte for byte; the offsets from the log start to the
// end must follow each other without a gap; nothing may be there that was
// not sent; a producer's records keep their order.
func (l *ledger) check(topic string, data map[int32][]stored, start, end map[int32]int64) *verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	ti := uint8(l.topicIndex(topic))
	v := &verdict{topic: topic}
	type key struct {
		producer int
		seq      uint64
	}
	seen := map[key]int{}
	partitions := make([]int32, 0, len(data))
	for p := range data {
		partitions = append(partitions, p)
	}
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	for _, p := range partitions {
		recs := data[p]
		next := start[p]
		lastSeq := map[int]uint64{}
		for _, r := range recs {
			if r.offset != next {
				v.gaps++
				v.note("%s-%d: offset %d follows %d", topic, p, r.offset, next-1)
			}
			next = r.offset + 1
			producer, seq := r.producer, r.seq
			if !r.valid {
				v.corrupt++
				v.note("%s-%d@%d: value fails its checksum (%d bytes)", topic, p, r.offset, r.size)
				continue
			}
			if producer >= len(l.sent) || seq >= uint64(len(l.sent[producer])) {
				v.phantom++
				v.note("%s-%d@%d: producer %d seq %d was never sent", topic, p, r.offset, producer, seq)
				continue
			}
			s := l.sent[producer][seq]
			if s.topic != ti || s.partition != p {
				v.phantom++
				v.note("%s-%d@%d: producer %d seq %d was sent to %s-%d", topic, p, r.offset, producer, seq, l.topics[s.topic], s.partition)
				continue
			}
			if r.hash != s.hash {
				v.corrupt++
				v.note("%s-%d@%d: producer %d seq %d differs from what was sent", topic, p, r.offset, producer, seq)
				continue
			}
			k := key{producer, seq}
			seen[k]++
			if seen[k] > 1 {
				v.duplicated++
				v.note("%s-%d@%d: producer %d seq %d stored again (copy %d)", topic, p, r.offset, producer, seq, seen[k])
				continue
			}
			if last, ok := lastSeq[producer]; ok && seq < last {
				v.reordered++
				v.note("%s-%d@%d: producer %d seq %d after seq %d", topic, p, r.offset, producer, seq, last)
			}
			lastSeq[producer] = seq
			switch s.state {
			case acked:
				if s.offset != r.offset {
					v.moved++
					v.note("%s-%d: producer %d seq %d acked at %d, stored at %d", topic, p, producer, seq, s.offset, r.offset)
				}
			default:
				v.unacked++
			}
		}
		if len(recs) == 0 && start[p] != end[p] {
			v.gaps++
			v.note("%s-%d: log start %d, end %d, but nothing was read", topic, p, start[p], end[p])
		} else if next != end[p] {
			v.gaps++
			v.note("%s-%d: read up to %d, the end is %d", topic, p, next, end[p])
		}
	}
	for producer, recs := range l.sent {
		for seq, s := range recs {
			if s.topic != ti || s.state != acked {
				continue
			}
			if s.offset < start[s.partition] {
				v.belowStart++
				continue
			}
			v.acked++
			n := seen[key{producer, uint64(seq)}]
			if n == 0 {
				v.lost++
				v.note("%s-%d: producer %d seq %d acked at offset %d is missing", topic, s.partition, producer, seq, s.offset)
			} else {
				v.present++
			}
		}
	}
	return v
}

// readAll reads every partition of topic from its log start to its end (as
// listed right before), with a consumer that assigns partitions directly.
func readAll(ctx context.Context, seeds []string, adm *kadm.Client, topic string) (map[int32][]stored, map[int32]int64, map[int32]int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ListStartOffsets %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ListEndOffsets %s: %w", topic, err)
	}
	start, end := map[int32]int64{}, map[int32]int64{}
	assign := map[int32]kgo.Offset{}
	var ferr error
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = errors.Join(ferr, fmt.Errorf("start offset of %s-%d: %w", topic, o.Partition, o.Err))
		}
		start[o.Partition] = o.Offset
		assign[o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = errors.Join(ferr, fmt.Errorf("end offset of %s-%d: %w", topic, o.Partition, o.Err))
		}
		end[o.Partition] = o.Offset
	})
	if ferr != nil {
		return nil, nil, nil, ferr
	}
	data := map[int32][]stored{}
	remaining := 0
	for p := range start {
		data[p] = nil
		if end[p] > start[p] {
			remaining++
		}
	}
	if remaining == 0 {
		return data, start, end, nil
	}
	cl, err := kgo.NewClient(clientOpts(seeds,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchMaxBytes(16<<20),
	)...)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cl.Close()
	done := map[int32]bool{}
	for remaining > 0 {
		if ctx.Err() != nil {
			return nil, nil, nil, fmt.Errorf("reading %s back: %w (%d partitions not read to the end)", topic, ctx.Err(), remaining)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		var perr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				perr = fmt.Errorf("fetching %s-%d: %w", t, p, err)
			}
		})
		if perr != nil {
			return nil, nil, nil, perr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return
			}
			data[r.Partition] = append(data[r.Partition], newStored(r.Offset, r.Value))
			if r.Offset == end[r.Partition]-1 && !done[r.Partition] {
				done[r.Partition] = true
				remaining--
			}
		})
	}
	return data, start, end, nil
}
