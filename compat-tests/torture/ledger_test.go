package main

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fixture: producer 0 sends four records to t-0, all acknowledged at offsets
// 0..3; the values are returned so tests can build what a read would see.
func fixture(t *testing.T) (*ledger, [][]byte) {
	t.Helper()
	l := newLedger(1, "t")
	rng := seededRand(1, 1)
	var values [][]byte
	for seq := uint64(0); seq < 4; seq++ {
		v := makeValue(0, seq, rng, 10, 40)
		l.add(0, 0, 0, v)
		l.resolve(0, seq, &kgo.Record{Partition: 0, Offset: int64(seq)}, nil)
		values = append(values, v)
	}
	return l, values
}

func read(values [][]byte, offsets ...int64) map[int32][]stored {
	var out []stored
	for i, v := range values {
		out = append(out, newStored(offsets[i], v))
	}
	return map[int32][]stored{0: out}
}

func TestValueRoundTripAndChecksum(t *testing.T) {
	v := makeValue(3, 77, seededRand(5, 5), 0, 100)
	p, s, ok := parseValue(v)
	if !ok || p != 3 || s != 77 {
		t.Fatalf("parse: %d %d %v", p, s, ok)
	}
	v[len(v)/2] ^= 1
	if _, _, ok := parseValue(v); ok {
		t.Fatal("a flipped bit passes the checksum")
	}
}

func TestCheckPassesWhenEverythingIsThere(t *testing.T) {
	l, vals := fixture(t)
	v := l.check("t", read(vals, 0, 1, 2, 3), map[int32]int64{0: 0}, map[int32]int64{0: 4})
	if v.bad() || v.present != 4 {
		t.Fatalf("%s %v", v, v.examples)
	}
}

func TestCheckFindsEachKindOfDamage(t *testing.T) {
	start, end := map[int32]int64{0: 0}, map[int32]int64{0: 4}
	cases := []struct {
		name  string
		data  func(vals [][]byte) map[int32][]stored
		end   int64
		count func(v *verdict) int
	}{
		{"lost", func(vals [][]byte) map[int32][]stored {
			return read([][]byte{vals[0], vals[1], vals[2]}, 0, 1, 2)
		}, 3, func(v *verdict) int { return v.lost }},
		{"duplicated", func(vals [][]byte) map[int32][]stored {
			return read([][]byte{vals[0], vals[1], vals[2], vals[3], vals[3]}, 0, 1, 2, 3, 4)
		}, 5, func(v *verdict) int { return v.duplicated }},
		{"moved", func(vals [][]byte) map[int32][]stored {
			return read([][]byte{vals[0], vals[1], vals[3], vals[2]}, 0, 1, 2, 3)
		}, 4, func(v *verdict) int { return v.moved }},
		{"corrupt", func(vals [][]byte) map[int32][]stored {
			bad := append([]byte(nil), vals[2]...)
			bad[len(bad)-1] ^= 0xff
			return read([][]byte{vals[0], vals[1], bad, vals[3]}, 0, 1, 2, 3)
		}, 4, func(v *verdict) int { return v.corrupt }},
		{"phantom", func(vals [][]byte) map[int32][]stored {
			never := makeValue(0, 9, seededRand(2, 2), 10, 10)
			return read([][]byte{vals[0], vals[1], vals[2], vals[3], never}, 0, 1, 2, 3, 4)
		}, 5, func(v *verdict) int { return v.phantom }},
		{"gap", func(vals [][]byte) map[int32][]stored {
			return read(vals, 0, 1, 2, 4)
		}, 5, func(v *verdict) int { return v.gaps }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, vals := fixture(t)
			end[0] = c.end
			v := l.check("t", c.data(vals), start, end)
			if !v.bad() || c.count(v) == 0 {
				t.Fatalf("%s not reported: %s", c.name, v)
			}
		})
	}
}

func TestCheckAllowsRetentionToRemoveAPrefixOnly(t *testing.T) {
	l, vals := fixture(t)
	// Log start 2: records 0 and 1 were removed by retention.
	v := l.check("t", read(vals[2:], 2, 3), map[int32]int64{0: 2}, map[int32]int64{0: 4})
	if v.bad() || v.belowStart != 2 || v.present != 2 {
		t.Fatalf("%s %v", v, v.examples)
	}
	// Log start 2 but offset 3 missing: lost.
	v = l.check("t", read(vals[2:3], 2), map[int32]int64{0: 2}, map[int32]int64{0: 3})
	if v.lost != 1 {
		t.Fatalf("%s", v)
	}
}

func TestUnacknowledgedRecordsMayBeStoredOnceButNotTwice(t *testing.T) {
	l := newLedger(1, "t")
	v0 := makeValue(0, 0, seededRand(1, 1), 10, 10)
	l.add(0, 0, 0, v0) // never answered
	if v := l.check("t", read([][]byte{v0}, 0), map[int32]int64{0: 0}, map[int32]int64{0: 1}); v.bad() || v.unacked != 1 {
		t.Fatalf("%s", v)
	}
	if v := l.check("t", read([][]byte{v0, v0}, 0, 1), map[int32]int64{0: 0}, map[int32]int64{0: 2}); v.duplicated != 1 {
		t.Fatalf("%s", v)
	}
}
