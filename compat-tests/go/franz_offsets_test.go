package compat

// ListOffsets through kadm: start/end offsets and offsets for a timestamp,
// and a consumer starting at a timestamp.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ms is baseTS plus d milliseconds.
func ms(d int64) int64 { return baseTS.UnixMilli() + d }

// produceTimestamps produces one record per timestamp (ms offsets from
// baseTS) to partition 0, in one batch or one batch each.
func produceTimestamps(t *testing.T, topic string, deltas []int64, oneBatchEach bool) {
	t.Helper()
	cl := newFranzProducer(t, kgo.ProducerLinger(50*time.Millisecond))
	var recs []planned
	for i, d := range deltas {
		recs = append(recs, planned{Partition: 0, Key: []byte("k"), Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: time.UnixMilli(ms(d))})
	}
	var offsets []int64
	if oneBatchEach {
		for _, r := range recs {
			_, o, _ := franzProduce(t, cl, topic, []planned{r}, true)
			offsets = append(offsets, o...)
		}
	} else {
		_, offsets, _ = franzProduce(t, cl, topic, recs, true)
	}
	for i, o := range offsets {
		if o != int64(i) {
			t.Fatalf("record %d stored at offset %d", i, o)
		}
	}
}

func TestFranzListOffsetsOfEmptyPartitionsAreZero(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-lo-empty", 2)
	checkEndOffsets(t, adm, topic, 2, nil)
	// No record at or after any time: kadm answers the end offset (0).
	lo, err := adm.ListOffsetsAfterMilli(ctxT(t, opTimeout), ms(0), topic)
	if err != nil {
		t.Fatalf("ListOffsetsAfterMilli: %v", err)
	}
	for p := range int32(2) {
		o, ok := lo.Lookup(topic, p)
		if !ok || o.Err != nil || o.Offset != 0 {
			t.Errorf("partition %d: %+v, want offset 0", p, o)
		}
	}
}

func TestFranzListOffsetsAfterProduceAreZeroAndRecordCount(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-lo", 2)
	produceTimestamps(t, topic, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, false)
	checkEndOffsets(t, adm, topic, 2, make([]int32, 10)) // 10 in partition 0, none in 1
}

func checkOffsetsForTimes(t *testing.T, oneBatchEach bool) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-oft", 1)
	// Ten records, one second apart.
	var deltas []int64
	for i := range int64(10) {
		deltas = append(deltas, 1000*i)
	}
	produceTimestamps(t, topic, deltas, oneBatchEach)

	for _, c := range []struct {
		ts         int64
		wantOffset int64
		wantTS     int64 // the found record's timestamp; -1: none
	}{
		{ms(4000), 4, ms(4000)}, // exact match
		{ms(4500), 5, ms(5000)}, // first timestamp >= T
		{ms(1), 1, ms(1000)},
		{ms(0), 0, ms(0)},
		{0, 0, ms(0)}, // before everything
		{ms(9000), 9, ms(9000)},
		// Past the last timestamp: the broker answers -1; kadm documents
		// that it then returns the end offset.
		{ms(9001), 10, -1},
	} {
		lo, err := adm.ListOffsetsAfterMilli(ctxT(t, opTimeout), c.ts, topic)
		if err != nil {
			t.Fatalf("ListOffsetsAfterMilli(%d): %v", c.ts, err)
		}
		o, ok := lo.Lookup(topic, 0)
		if !ok || o.Err != nil || o.Offset != c.wantOffset || (c.wantTS >= 0 && o.Timestamp != c.wantTS) {
			t.Errorf("ListOffsetsAfterMilli(base%+d) = offset %d timestamp %d err %v; want offset %d timestamp %d",
				c.ts-ms(0), o.Offset, o.Timestamp, o.Err, c.wantOffset, c.wantTS)
		}
	}

	// A consumer told to start at a timestamp starts at that offset.
	cl, err := kgo.NewClient(kgoOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AfterMilli(ms(6500))}}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), consumeTimeout)
	defer cancel()
	var got []int64
	for len(got) < 3 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming from a timestamp: got offsets %v within %s, want [7 8 9]", got, consumeTimeout)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch error on partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Offset) })
	}
	if fmt.Sprint(got) != "[7 8 9]" {
		t.Errorf("consuming from base+6500ms: offsets %v, want [7 8 9]", got)
	}
}

func TestFranzListOffsetsForTimesWithinOneBatch(t *testing.T) { checkOffsetsForTimes(t, false) }

func TestFranzListOffsetsForTimesAcrossBatches(t *testing.T) { checkOffsetsForTimes(t, true) }

func TestFranzListOffsetsForTimesWithOutOfOrderTimestampsFindsFirstOffsetAtOrAfter(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-oft-unordered", 1)
	// offset:             0     1     2     3     4
	produceTimestamps(t, topic, []int64{1000, 3000, 2000, 5000, 4000}, true)
	// The earliest offset whose timestamp is >= T, not the smallest timestamp >= T.
	for _, c := range [][2]int64{{2000, 1}, {2500, 1}, {3500, 3}, {4500, 3}, {5001, 5}} {
		lo, err := adm.ListOffsetsAfterMilli(ctxT(t, opTimeout), ms(c[0]), topic)
		if err != nil {
			t.Fatalf("ListOffsetsAfterMilli: %v", err)
		}
		if o, _ := lo.Lookup(topic, 0); o.Err != nil || o.Offset != c[1] {
			t.Errorf("ListOffsetsAfterMilli(base+%d) = %d (%v), want %d", c[0], o.Offset, o.Err, c[1])
		}
	}
}
