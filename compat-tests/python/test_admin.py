"""CreateTopics, DeleteTopics and Metadata through librdkafka's AdminClient."""

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from support import OP_TIMEOUT, create_topic, topic_metadata, unique_topic, wait_for


def create_error(admin, new_topic):
    """The KafkaError that creating `new_topic` fails with."""
    futures = admin.create_topics([new_topic], request_timeout=OP_TIMEOUT)
    with pytest.raises(KafkaException) as info:
        futures[new_topic.topic].result(timeout=OP_TIMEOUT)
    return info.value.args[0]


def test_create_topic_three_partitions_listed_with_broker_as_leader(admin):
    topic = create_topic(admin, unique_topic("admin-create"), 3)

    md = admin.list_topics(timeout=OP_TIMEOUT)
    assert len(md.brokers) == 1
    (broker_id,) = md.brokers
    tm = md.topics[topic]
    assert tm.error is None
    assert sorted(tm.partitions) == [0, 1, 2]
    for pid, pm in tm.partitions.items():
        assert pm.id == pid
        assert pm.error is None
        assert pm.leader == broker_id
        assert pm.replicas == [broker_id]
        assert pm.isrs == [broker_id]


def test_create_existing_topic_fails_topic_already_exists(admin):
    topic = create_topic(admin, unique_topic("admin-dup"), 3)

    err = create_error(admin, NewTopic(topic, num_partitions=3, replication_factor=1))
    assert err.code() == KafkaError.TOPIC_ALREADY_EXISTS  # 36
    # The original topic is untouched.
    assert sorted(topic_metadata(admin, topic).partitions) == [0, 1, 2]


def test_create_topic_replication_factor_above_broker_count_fails_invalid_replication_factor(admin):
    topic = unique_topic("admin-rf3")

    err = create_error(admin, NewTopic(topic, num_partitions=1, replication_factor=3))
    assert err.code() == KafkaError.INVALID_REPLICATION_FACTOR  # 38
    assert topic_metadata(admin, topic) is None


@pytest.mark.parametrize(
    "name",
    [
        "bad name!",  # character outside [a-zA-Z0-9._-]
        "..",  # reserved
        "x" * 250,  # over 249 characters
    ],
    ids=["illegal-char", "dotdot", "too-long"],
)
def test_create_topic_invalid_name_fails_invalid_topic_exception(admin, name):
    err = create_error(admin, NewTopic(name, num_partitions=1, replication_factor=1))
    # Kafka's INVALID_TOPIC_EXCEPTION; librdkafka names code 17 TOPIC_EXCEPTION.
    assert err.code() == KafkaError.TOPIC_EXCEPTION == 17
    assert topic_metadata(admin, name) is None


def test_delete_topic_removes_it_from_metadata(admin):
    topic = create_topic(admin, unique_topic("admin-delete"), 3)

    futures = admin.delete_topics([topic], request_timeout=OP_TIMEOUT)
    assert futures[topic].result(timeout=OP_TIMEOUT) is None

    wait_for(lambda: topic_metadata(admin, topic) is None, f"{topic} to leave metadata")
    # Asked for by name (auto-creation off on this handle): unknown.
    md = admin.list_topics(topic, timeout=OP_TIMEOUT)
    assert md.topics[topic].error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_delete_unknown_topic_fails_unknown_topic_or_partition(admin):
    topic = unique_topic("admin-delete-unknown")

    futures = admin.delete_topics([topic], request_timeout=OP_TIMEOUT)
    with pytest.raises(KafkaException) as info:
        futures[topic].result(timeout=OP_TIMEOUT)
    assert info.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART  # 3
