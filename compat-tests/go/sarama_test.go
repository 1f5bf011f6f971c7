package compat

// IBM/sarama: admin, produce with every codec and acks level, consume back
// with Consumer.ConsumePartition (no groups), ListOffsets, idempotence.

import (
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func init() {
	if os.Getenv("SARAMA_LOG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	}
}

type saramaExplicit int32

// saramaMixedPartitioner sends a message whose Metadata is a saramaExplicit
// to that partition, every other one by key with sarama's default hash
// partitioner.
type saramaMixedPartitioner struct{ byKey sarama.Partitioner }

func (m saramaMixedPartitioner) Partition(msg *sarama.ProducerMessage, n int32) (int32, error) {
	if p, ok := msg.Metadata.(saramaExplicit); ok {
		return int32(p), nil
	}
	return m.byKey.Partition(msg, n)
}

func (saramaMixedPartitioner) RequiresConsistency() bool { return true }

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "strata-compat-sarama"
	// What a user talking to Kafka 4 sets; sarama still clamps every request
	// to the versions the broker's ApiVersions answer allows.
	c.Version = sarama.V4_0_0_0
	c.Metadata.AllowAutoTopicCreation = false
	c.Admin.Timeout = opTimeout
	c.Net.DialTimeout = opTimeout
	c.Net.ReadTimeout = opTimeout
	c.Net.WriteTimeout = opTimeout
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Flush.Frequency = 10 * time.Millisecond
	c.Producer.Partitioner = func(topic string) sarama.Partitioner {
		return saramaMixedPartitioner{sarama.NewHashPartitioner(topic)}
	}
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 500 * time.Millisecond
	return c
}

func newSaramaAdmin(t *testing.T) sarama.ClusterAdmin {
	t.Helper()
	adm, err := sarama.NewClusterAdmin(seeds(), saramaConfig())
	if err != nil {
		t.Fatalf("sarama.NewClusterAdmin: %v", err)
	}
	t.Cleanup(func() { _ = adm.Close() })
	return adm
}

func newSaramaClient(t *testing.T) sarama.Client {
	t.Helper()
	cl, err := sarama.NewClient(seeds(), saramaConfig())
	if err != nil {
		t.Fatalf("sarama.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// saramaCreateTopic creates a topic through sarama's ClusterAdmin, waits
// until it serves (through kadm, as every test does) and deletes it after.
func saramaCreateTopic(t *testing.T, adm sarama.ClusterAdmin, prefix string, n int32) string {
	t.Helper()
	topic := uniqueTopic(prefix)
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: n, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("CreateTopic %s: %v", topic, err)
	}
	t.Cleanup(func() { _ = adm.DeleteTopic(topic) })
	waitServing(t, newAdmin(t), topic, n)
	return topic
}

func saramaTopicListed(t *testing.T, adm sarama.ClusterAdmin, topic string) bool {
	t.Helper()
	all, err := adm.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	_, ok := all[topic]
	return ok
}

func TestSaramaAdminCreateTopicThreePartitionsListedWithBrokerAsLeader(t *testing.T) {
	adm := newSaramaAdmin(t)
	topic := saramaCreateTopic(t, adm, "sarama-admin-create", 3)

	brokers := newSaramaClient(t).Brokers()
	if len(brokers) != 1 {
		t.Fatalf("%d brokers, want 1", len(brokers))
	}
	id := brokers[0].ID()
	mds, err := adm.DescribeTopics([]string{topic})
	if err != nil {
		t.Fatalf("DescribeTopics: %v", err)
	}
	if len(mds) != 1 || mds[0].Name != topic || !errors.Is(mds[0].Err, sarama.ErrNoError) {
		t.Fatalf("DescribeTopics = %+v", mds)
	}
	var ids []int32
	for _, p := range mds[0].Partitions {
		ids = append(ids, p.ID)
		if !errors.Is(p.Err, sarama.ErrNoError) || p.Leader != id || !slices.Equal(p.Replicas, []int32{id}) || !slices.Equal(p.Isr, []int32{id}) {
			t.Errorf("partition %d: err=%v leader=%d replicas=%v isr=%v, want leader/replicas/isr = broker %d",
				p.ID, p.Err, p.Leader, p.Replicas, p.Isr, id)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int32{0, 1, 2}) {
		t.Errorf("partitions %v, want [0 1 2]", ids)
	}
	all, err := adm.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if d, ok := all[topic]; !ok || d.NumPartitions != 3 || d.ReplicationFactor != 1 {
		t.Errorf("ListTopics[%s] = %+v (listed %v), want 3 partitions, replication factor 1", topic, d, ok)
	}
}

func TestSaramaAdminCreateExistingTopicFailsTopicAlreadyExists(t *testing.T) {
	adm := newSaramaAdmin(t)
	topic := saramaCreateTopic(t, adm, "sarama-admin-dup", 3)
	err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("second CreateTopic: err = %v, want TOPIC_ALREADY_EXISTS", err)
	}
}

func TestSaramaAdminCreateTopicReplicationFactorThreeFailsInvalidReplicationFactor(t *testing.T) {
	adm := newSaramaAdmin(t)
	topic := uniqueTopic("sarama-admin-rf3")
	err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 3}, false)
	if !errors.Is(err, sarama.ErrInvalidReplicationFactor) {
		t.Fatalf("CreateTopic rf=3: err = %v, want INVALID_REPLICATION_FACTOR", err)
	}
	if saramaTopicListed(t, adm, topic) {
		t.Errorf("%s exists after a failed create", topic)
	}
}

func TestSaramaAdminDeleteTopicRemovesItFromMetadata(t *testing.T) {
	adm := newSaramaAdmin(t)
	topic := saramaCreateTopic(t, adm, "sarama-admin-delete", 3)
	if err := adm.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	waitFor(t, topic+" to leave metadata", opTimeout, func() (bool, string) {
		return !saramaTopicListed(t, adm, topic), "still listed"
	})
	mds, err := adm.DescribeTopics([]string{topic})
	if err != nil {
		t.Fatalf("DescribeTopics: %v", err)
	}
	if len(mds) != 1 || !errors.Is(mds[0].Err, sarama.ErrUnknownTopicOrPartition) {
		t.Errorf("DescribeTopics(%s) after delete = %+v, want UNKNOWN_TOPIC_OR_PARTITION", topic, mds)
	}
	if err := adm.DeleteTopic(topic); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Errorf("deleting it again: err = %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

// ---------------------------------------------------------------------------

func toSarama(topic string, p planned) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Timestamp: p.Timestamp}
	if p.Key != nil {
		m.Key = sarama.ByteEncoder(p.Key)
	}
	if p.Value != nil {
		m.Value = sarama.ByteEncoder(p.Value)
	}
	for _, h := range p.Headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	if p.Partition >= 0 {
		m.Metadata = saramaExplicit(p.Partition)
	}
	return m
}

func fromSarama(m *sarama.ConsumerMessage) stored {
	s := stored{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		s.Headers = append(s.Headers, header{string(h.Key), h.Value})
	}
	return s
}

func newSaramaProducer(t *testing.T, tune func(*sarama.Config)) sarama.SyncProducer {
	t.Helper()
	c := saramaConfig()
	tune(c)
	p, err := sarama.NewSyncProducer(seeds(), c)
	if err != nil {
		t.Fatalf("sarama.NewSyncProducer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// saramaProduce sends recs as one SendMessages call (or one SendMessage each)
// and returns where each went and the offset sarama reported.
func saramaProduce(t *testing.T, p sarama.SyncProducer, topic string, recs []planned, oneEach bool) ([]int32, []int64) {
	t.Helper()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = toSarama(topic, r)
	}
	if oneEach {
		for _, m := range msgs {
			if _, _, err := p.SendMessage(m); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
		}
	} else if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			t.Fatalf("SendMessages: %d failed, first: %v", len(perrs), perrs[0].Err)
		}
		t.Fatalf("SendMessages: %v", err)
	}
	parts := make([]int32, len(msgs))
	offsets := make([]int64, len(msgs))
	for i, m := range msgs {
		parts[i], offsets[i] = m.Partition, m.Offset
	}
	return parts, offsets
}

// saramaConsume reads want[p] messages from the start of each partition p.
func saramaConsume(t *testing.T, topic string, want map[int32]int) []stored {
	t.Helper()
	c, err := sarama.NewConsumer(seeds(), saramaConfig())
	if err != nil {
		t.Fatalf("sarama.NewConsumer: %v", err)
	}
	defer c.Close()
	deadline := time.After(consumeTimeout)
	var out []stored
	for p, n := range want {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition(%s, %d): %v", topic, p, err)
		}
		for got := 0; got < n; {
			select {
			case m := <-pc.Messages():
				out = append(out, fromSarama(m))
				got++
			case err := <-pc.Errors():
				t.Fatalf("consuming partition %d: %v", p, err)
			case <-deadline:
				t.Fatalf("partition %d: got %d of %d messages within %s", p, got, n, consumeTimeout)
			}
		}
		_ = pc.Close()
	}
	return out
}

func countPerPartition(nparts int32, parts []int32) map[int32]int {
	want := map[int32]int{}
	for p := range nparts {
		want[p] = 0
	}
	for _, p := range parts {
		want[p]++
	}
	return want
}

// saramaCheckOffsets checks sarama's GetOffset: oldest 0, newest the count.
func saramaCheckOffsets(t *testing.T, topic string, want map[int32]int) {
	t.Helper()
	cl := newSaramaClient(t)
	for p, n := range want {
		oldest, err1 := cl.GetOffset(topic, p, sarama.OffsetOldest)
		newest, err2 := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err1 != nil || err2 != nil || oldest != 0 || newest != int64(n) {
			t.Errorf("partition %d: oldest=%d (%v) newest=%d (%v), want 0 and %d", p, oldest, err1, newest, err2, n)
		}
	}
}

var saramaCodecs = []struct {
	name  string
	codec sarama.CompressionCodec
	attr  uint8
}{
	{"none", sarama.CompressionNone, 0},
	{"gzip", sarama.CompressionGZIP, 1},
	{"snappy", sarama.CompressionSnappy, 2},
	{"lz4", sarama.CompressionLZ4, 3},
	{"zstd", sarama.CompressionZSTD, 4},
}

var saramaAcks = []struct {
	name string
	acks sarama.RequiredAcks
}{
	{"all", sarama.WaitForAll},
	{"leader", sarama.WaitForLocal}, // sarama's default
	{"none", sarama.NoResponse},
}

func TestSaramaProduceThenConsumeReturnsSameRecordsInOrder(t *testing.T) {
	for _, codec := range saramaCodecs {
		for _, acks := range saramaAcks {
			t.Run(codec.name+"/acks-"+acks.name, func(t *testing.T) {
				adm := newSaramaAdmin(t)
				topic := saramaCreateTopic(t, adm, fmt.Sprintf("sarama-pc-%s-%s", codec.name, acks.name), partitions)
				p := newSaramaProducer(t, func(c *sarama.Config) {
					c.Producer.Compression = codec.codec
					c.Producer.RequiredAcks = acks.acks
				})
				recs := plannedRecords()
				parts, offsets := saramaProduce(t, p, topic, recs, false)
				if acks.acks == sarama.NoResponse {
					offsets = nil // nothing came back to tell them
				}
				want := countPerPartition(partitions, parts)
				checkRoundTrip(t, recs, parts, offsets, saramaConsume(t, topic, want))
				saramaCheckOffsets(t, topic, want)

				// The batches sarama wrote, as franz-go sees them: the codec
				// sarama used, no producer id.
				for _, r := range franzConsume(t, topic, partitions, totalRecords) {
					if c := r.Attrs.CompressionType(); c != codec.attr {
						t.Errorf("%v: stored in a batch with codec %d, want %d", fromKgo(r), c, codec.attr)
					}
					if r.ProducerID != -1 {
						t.Errorf("%v: producer id %d, want -1", fromKgo(r), r.ProducerID)
					}
				}
			})
		}
	}
}

func TestSaramaNullAndEmptyKeysAndValuesStayDistinct(t *testing.T) {
	adm := newSaramaAdmin(t)
	topic := saramaCreateTopic(t, adm, "sarama-nulls", 1)
	p := newSaramaProducer(t, func(c *sarama.Config) { c.Producer.RequiredAcks = sarama.WaitForAll })
	var recs []planned
	for i, kv := range nullAndEmpty {
		recs = append(recs, planned{Partition: 0, Key: kv[0], Value: kv[1], Timestamp: baseTS.Add(time.Duration(i) * time.Millisecond)})
	}
	parts, offsets := saramaProduce(t, p, topic, recs, true)
	checkRoundTrip(t, recs, parts, offsets, saramaConsume(t, topic, map[int32]int{0: len(recs)}))
}

func TestSaramaIdempotentProducerExactlyOnceInOrder(t *testing.T) {
	for _, codec := range []struct {
		name  string
		codec sarama.CompressionCodec
	}{{"none", sarama.CompressionNone}, {"zstd", sarama.CompressionZSTD}} {
		t.Run(codec.name, func(t *testing.T) {
			adm := newSaramaAdmin(t)
			topic := saramaCreateTopic(t, adm, "sarama-idem-"+codec.name, 2)
			p := newSaramaProducer(t, func(c *sarama.Config) {
				c.Producer.Idempotent = true
				c.Producer.RequiredAcks = sarama.WaitForAll
				c.Net.MaxOpenRequests = 1 // sarama requires it for idempotence
				c.Producer.Compression = codec.codec
				c.Producer.Flush.Frequency = time.Millisecond
				c.Producer.Flush.MaxMessages = 50 // many batches
			})
			const n = 1000
			var recs []planned
			for i := range n {
				recs = append(recs, planned{Partition: int32(i % 2), Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i)),
					Timestamp: baseTS.Add(time.Duration(i) * time.Millisecond)})
			}
			parts, offsets := saramaProduce(t, p, topic, recs, false)
			want := countPerPartition(2, parts)
			checkRoundTrip(t, recs, parts, offsets, saramaConsume(t, topic, want))
			saramaCheckOffsets(t, topic, want)

			// Stored under one producer id and epoch, as franz-go sees them.
			got := franzConsume(t, topic, 2, n)
			pid, epoch := got[0].ProducerID, got[0].ProducerEpoch
			if pid < 0 {
				t.Fatalf("records stored with producer id %d from an idempotent producer", pid)
			}
			for _, r := range got {
				if r.ProducerID != pid || r.ProducerEpoch != epoch {
					t.Fatalf("%v: producer %d epoch %d, others have %d epoch %d", fromKgo(r), r.ProducerID, r.ProducerEpoch, pid, epoch)
				}
			}
		})
	}
}

func TestSaramaGetOffsetForTimes(t *testing.T) {
	adm := newSaramaAdmin(t)
	topic := saramaCreateTopic(t, adm, "sarama-oft", 1)
	p := newSaramaProducer(t, func(c *sarama.Config) { c.Producer.RequiredAcks = sarama.WaitForAll })
	var recs []planned
	for i := range 10 {
		recs = append(recs, planned{Partition: 0, Key: []byte("k"), Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: time.UnixMilli(ms(int64(1000 * i)))})
	}
	// Five in one batch, five in a batch each.
	saramaProduce(t, p, topic, recs[:5], false)
	saramaProduce(t, p, topic, recs[5:], true)

	cl := newSaramaClient(t)
	for _, c := range [][2]int64{
		{ms(4000), 4}, // exact match
		{ms(4500), 5}, // first timestamp >= T
		{ms(1), 1},
		{ms(0), 0},
		{ms(9000), 9},
		{ms(9001), -1}, // past the last timestamp: the broker says -1
	} {
		got, err := cl.GetOffset(topic, 0, c[0])
		if err != nil || got != c[1] {
			t.Errorf("GetOffset(base%+d ms) = %d (%v), want %d", c[0]-ms(0), got, err, c[1])
		}
	}
	saramaCheckOffsets(t, topic, map[int32]int{0: 10})
}

// Users pin sarama's Config.Version to their cluster's; older pins make it
// send older request versions (V2_0_0_0: Produce v6, Fetch v7, ListOffsets v3,
// Metadata v5), which Kafka 4 still serves.
func TestSaramaOlderProtocolVersionsRoundTrip(t *testing.T) {
	for _, v := range []sarama.KafkaVersion{sarama.V2_0_0_0, sarama.DefaultVersion} {
		t.Run(v.String(), func(t *testing.T) {
			topic := createTopic(t, newAdmin(t), "sarama-v"+v.String(), 1)
			setVersion := func(c *sarama.Config) { c.Version = v }
			p := newSaramaProducer(t, func(c *sarama.Config) {
				setVersion(c)
				c.Producer.RequiredAcks = sarama.WaitForAll
				c.Producer.Compression = sarama.CompressionGZIP
			})
			var recs []planned
			for i := range 10 {
				recs = append(recs, planned{Partition: 0, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
					Headers: headersFor(i), Timestamp: time.UnixMilli(ms(int64(1000 * i)))})
			}
			parts, offsets := saramaProduce(t, p, topic, recs, false)

			c := saramaConfig()
			setVersion(c)
			consumer, err := sarama.NewConsumer(seeds(), c)
			if err != nil {
				t.Fatalf("sarama.NewConsumer: %v", err)
			}
			defer consumer.Close()
			pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
			if err != nil {
				t.Fatalf("ConsumePartition: %v", err)
			}
			defer pc.Close()
			var got []stored
			deadline := time.After(consumeTimeout)
			for len(got) < len(recs) {
				select {
				case m := <-pc.Messages():
					got = append(got, fromSarama(m))
				case err := <-pc.Errors():
					t.Fatalf("consuming: %v", err)
				case <-deadline:
					t.Fatalf("got %d of %d messages within %s", len(got), len(recs), consumeTimeout)
				}
			}
			checkRoundTrip(t, recs, parts, offsets, got)

			cl, err := sarama.NewClient(seeds(), c)
			if err != nil {
				t.Fatalf("sarama.NewClient: %v", err)
			}
			defer cl.Close()
			for _, q := range [][2]int64{{sarama.OffsetOldest, 0}, {sarama.OffsetNewest, 10}, {ms(4500), 5}, {ms(9001), -1}} {
				if o, err := cl.GetOffset(topic, 0, q[0]); err != nil || o != q[1] {
					t.Errorf("GetOffset(%d) = %d (%v), want %d", q[0], o, err, q[1])
				}
			}
		})
	}
}
