package compat

// CreateTopics / DeleteTopics / Metadata through franz-go's kadm.

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestFranzAdminCreateTopicThreePartitionsListedWithBrokerAsLeader(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-admin-create", 3)

	md, err := adm.Metadata(ctxT(t, opTimeout), topic)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	if len(md.Brokers) != 1 {
		t.Fatalf("brokers = %+v, want exactly one", md.Brokers)
	}
	id := md.Brokers[0].NodeID
	td := md.Topics[topic]
	if td.Err != nil {
		t.Fatalf("topic error: %v", td.Err)
	}
	if got := td.Partitions.Numbers(); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Fatalf("partitions = %v, want [0 1 2]", got)
	}
	for _, p := range td.Partitions.Sorted() {
		if p.Err != nil || p.Leader != id || !slices.Equal(p.Replicas, []int32{id}) || !slices.Equal(p.ISR, []int32{id}) {
			t.Errorf("partition %d: err=%v leader=%d replicas=%v isr=%v, want leader/replicas/isr = broker %d",
				p.Partition, p.Err, p.Leader, p.Replicas, p.ISR, id)
		}
	}
	// The all-topics listing has it too.
	all, err := adm.ListTopics(ctxT(t, opTimeout))
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if !all.Has(topic) {
		t.Errorf("ListTopics does not list %s", topic)
	}
}

func TestFranzAdminCreateExistingTopicFailsTopicAlreadyExists(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-admin-dup", 3)

	_, err := adm.CreateTopic(ctxT(t, opTimeout), 3, 1, nil, topic)
	if !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second CreateTopic: err = %v, want TOPIC_ALREADY_EXISTS", err)
	}
	md, err := adm.Metadata(ctxT(t, opTimeout), topic)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	if got := md.Topics[topic].Partitions.Numbers(); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Errorf("after the failed create: partitions = %v, want [0 1 2]", got)
	}
}

func TestFranzAdminCreateTopicReplicationFactorThreeFailsInvalidReplicationFactor(t *testing.T) {
	adm := newAdmin(t)
	topic := uniqueTopic("franz-admin-rf3")

	_, err := adm.CreateTopic(ctxT(t, opTimeout), 1, 3, nil, topic)
	if !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("CreateTopic rf=3: err = %v, want INVALID_REPLICATION_FACTOR", err)
	}
	all, err := adm.ListTopics(ctxT(t, opTimeout))
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if all.Has(topic) {
		t.Errorf("%s exists after a failed create", topic)
	}
}

func TestFranzAdminDeleteTopicRemovesItFromMetadata(t *testing.T) {
	adm := newAdmin(t)
	topic := createTopic(t, adm, "franz-admin-delete", 3)

	if _, err := adm.DeleteTopic(ctxT(t, opTimeout), topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	// kadm answers Metadata from its client's cache (up to 5s old), so look
	// with a fresh client each time.
	waitFor(t, topic+" to leave metadata", opTimeout, func() (bool, string) {
		all, err := newAdmin(t).ListTopics(ctxT(t, opTimeout))
		if err != nil {
			return false, err.Error()
		}
		return !all.Has(topic), "still listed"
	})
	// Asked for by name (kgo never asks to auto-create): unknown.
	md, err := newAdmin(t).Metadata(ctxT(t, opTimeout), topic)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	if err := md.Topics[topic].Err; !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("Metadata(%s) after delete: err = %v, want UNKNOWN_TOPIC_OR_PARTITION", topic, err)
	}
}

func TestFranzAdminDeleteUnknownTopicFailsUnknownTopicOrPartition(t *testing.T) {
	adm := newAdmin(t)
	_, err := adm.DeleteTopic(ctxT(t, opTimeout), uniqueTopic("franz-admin-delete-unknown"))
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("DeleteTopic(unknown): err = %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}
