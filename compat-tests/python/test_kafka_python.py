"""The same record round trip through kafka-python, a pure-Python client.

KafkaConsumer runs without a group_id: assign + seek only, no commits.
"""

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from support import CONSUME_TIMEOUT, OP_TIMEOUT, topic_metadata, unique_topic, wait_for

PARTITIONS = 3
PER_PARTITION = 6
BASE_TS = int(time.time() * 1000) - 86_400_000


@pytest.fixture
def kp_admin(bootstrap):
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(OP_TIMEOUT * 1000))
    yield client
    client.close()


@pytest.mark.parametrize("codec", [None, "gzip"], ids=["none", "gzip"])
def test_kafka_python_produce_then_fetch_returns_same_records(bootstrap, make_topic, codec):
    topic = make_topic(f"kp-{codec or 'none'}", PARTITIONS)
    # enable_idempotence=False: kafka-python 3 (like the Java client since
    # Kafka 3.0, KIP-679) is idempotent by default, which needs
    # InitProducerId; that has its own test below.
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", compression_type=codec, linger_ms=5, enable_idempotence=False
    )
    expected = {p: [] for p in range(PARTITIONS)}
    try:
        futures = []
        i = 0
        for _ in range(PER_PARTITION):
            for p in range(PARTITIONS):
                key = None if i % 7 == 3 else f"k{i}".encode()
                value = b"" if i % 7 == 5 else f"value-{i}".encode() * (i + 1)
                headers = [] if i % 4 == 0 else [("idx", str(i).encode()), ("dup", b"a"), ("dup", b"b")]
                futures.append(
                    (p, producer.send(topic, key=key, value=value, headers=headers, partition=p, timestamp_ms=BASE_TS + i))
                )
                expected[p].append((key, value, headers, BASE_TS + i))
                i += 1
        producer.flush(timeout=OP_TIMEOUT)
        metas = [(p, f.get(timeout=OP_TIMEOUT)) for p, f in futures]
    finally:
        producer.close(timeout=OP_TIMEOUT)
    for p in range(PARTITIONS):
        offsets = [m.offset for q, m in metas if q == p]
        assert offsets == list(range(PER_PARTITION)), f"delivery offsets of partition {p}"
    assert all(m.topic == topic and m.partition == p for p, m in metas)

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
    )
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = {p: [] for p in range(PARTITIONS)}
        deadline = time.monotonic() + CONSUME_TIMEOUT
        while sum(map(len, got.values())) < PARTITIONS * PER_PARTITION:
            assert time.monotonic() < deadline, f"got {got} within {CONSUME_TIMEOUT}s"
            for tp, records in consumer.poll(timeout_ms=500).items():
                got[tp.partition].extend(records)
    finally:
        consumer.close()

    for p in range(PARTITIONS):
        records = got[p]
        assert [r.offset for r in records] == list(range(PER_PARTITION))
        assert [r.topic for r in records] == [topic] * PER_PARTITION
        assert [r.timestamp_type for r in records] == [0] * PER_PARTITION  # CreateTime
        assert [(r.key, r.value, list(r.headers), r.timestamp) for r in records] == expected[p]


def test_kafka_python_default_producer_is_idempotent_and_delivers(bootstrap, make_topic):
    topic = make_topic("kp-idempotent", 1)
    # All defaults: acks=all with idempotence, so the producer first asks for
    # a producer id (InitProducerId) and numbers its batches.
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        futures = [producer.send(topic, value=f"v{i}".encode(), partition=0) for i in range(5)]
        producer.flush(timeout=OP_TIMEOUT)
        assert [f.get(timeout=OP_TIMEOUT).offset for f in futures] == [0, 1, 2, 3, 4]
    finally:
        producer.close(timeout=OP_TIMEOUT)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + CONSUME_TIMEOUT
        while len(got) < 5:
            assert time.monotonic() < deadline, f"got {got} within {CONSUME_TIMEOUT}s"
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(records)
    finally:
        consumer.close()
    assert [(r.offset, r.value) for r in got] == [(i, f"v{i}".encode()) for i in range(5)]


def test_kafka_python_admin_creates_and_deletes_topic(bootstrap, admin, kp_admin):
    topic = unique_topic("kp-admin")
    kp_admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)], timeout_ms=int(OP_TIMEOUT * 1000))
    md = wait_for(lambda: topic_metadata(admin, topic), f"{topic} in metadata")
    assert sorted(md.partitions) == [0, 1]

    with pytest.raises(TopicAlreadyExistsError):
        kp_admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)], timeout_ms=int(OP_TIMEOUT * 1000))

    kp_admin.delete_topics([topic], timeout_ms=int(OP_TIMEOUT * 1000))
    wait_for(lambda: topic_metadata(admin, topic) is None, f"{topic} to leave metadata")

    with pytest.raises(UnknownTopicOrPartitionError):
        kp_admin.delete_topics([topic], timeout_ms=int(OP_TIMEOUT * 1000))
