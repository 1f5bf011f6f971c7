"""Produce and Fetch through librdkafka: every codec, every acks level.

Consumers here use assign() with explicit offsets only: no subscribe, no
commits (consumer groups are tested elsewhere, once Strata has them).
"""

import time
from collections import defaultdict

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)

from support import OP_TIMEOUT, consume_n, unique_topic

PARTITIONS = 3
EXPLICIT_PER_PARTITION = 8
KEYS = [f"key-{k}".encode() for k in range(6)]
PER_KEY = 4
TOTAL = PARTITIONS * EXPLICIT_PER_PARTITION + len(KEYS) * PER_KEY

# A day back: well inside any broker's allowed timestamp window
# (message.timestamp.before/after.max.ms), and unlike "now" on every run.
BASE_TS = int(time.time() * 1000) - 86_400_000


def headers_for(i):
    if i % 5 == 0:
        return []  # no headers at all
    # Repeated keys keep their order; a header value may be null.
    return [("idx", str(i).encode()), ("dup", b"first"), ("dup", b"second"), ("nullval", None)]


def planned_records():
    """(partition or None for by-key, key, value, headers, timestamp)."""
    records = []
    i = 0
    for _ in range(EXPLICIT_PER_PARTITION):
        for p in range(PARTITIONS):
            records.append((p, f"k{i}".encode(), f"value-{i}-{'x' * (i * 7)}".encode(), headers_for(i), BASE_TS + i))
            i += 1
    for _ in range(PER_KEY):
        for key in KEYS:
            records.append((None, key, f"value-{i}-{key.decode()}".encode(), headers_for(i), BASE_TS + i))
            i += 1
    return records


def produce_all(producer, topic, records):
    """Produce in order, flush, and return the delivery reports in produce order."""
    reports = [None] * len(records)

    def on_delivery(index):
        def cb(err, msg):
            reports[index] = (err, msg)

        return cb

    for index, (partition, key, value, headers, ts) in enumerate(records):
        kwargs = {"key": key, "value": value, "headers": headers, "timestamp": ts, "on_delivery": on_delivery(index)}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, **kwargs)
        producer.poll(0)
    assert producer.flush(OP_TIMEOUT) == 0, "records still in flight after flush"
    assert all(r is not None for r in reports), "a delivery report is missing"
    return reports


def assign_from_beginning(bootstrap, topic, partitions, **extra):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_topic("unused-group"),  # librdkafka requires one
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
            **extra,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    return consumer


def as_tuple(msg):
    kind, ts = msg.timestamp()
    assert kind == TIMESTAMP_CREATE_TIME
    return (msg.partition(), msg.key(), msg.value(), msg.headers() or [], ts)


@pytest.mark.parametrize("acks", ["0", "1", "all"], ids=["acks0", "acks1", "acksall"])
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_then_fetch_returns_same_records_in_order(bootstrap, make_topic, codec, acks):
    topic = make_topic(f"pc-{codec}-{acks}", PARTITIONS)
    records = planned_records()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": acks, "compression.type": codec, "linger.ms": 5}
    )
    reports = produce_all(producer, topic, records)

    for (err, msg), (partition, *_rest) in zip(reports, records):
        assert err is None, f"delivery failed: {err}"
        if partition is not None:
            assert msg.partition() == partition
    # The same key always goes to the same partition.
    key_partitions = defaultdict(set)
    for (_, msg), (partition, key, *_rest) in zip(reports, records):
        if partition is None:
            key_partitions[key].add(msg.partition())
    assert all(len(ps) == 1 for ps in key_partitions.values()), key_partitions

    # What each partition must hold, in produce order.
    expected = defaultdict(list)
    for (_, msg), (_p, key, value, headers, ts) in zip(reports, records):
        expected[msg.partition()].append((msg.partition(), key, value, headers, ts))

    consumer = assign_from_beginning(bootstrap, topic, PARTITIONS)
    try:
        got = consume_n(consumer, TOTAL)
    finally:
        consumer.close()

    if acks == "0":
        # Fire and forget: no offsets come back; the records must still arrive.
        assert sorted(as_tuple(m) for m in got) == sorted(t for ts in expected.values() for t in ts)
        return

    by_partition = defaultdict(list)
    for m in got:
        by_partition[m.partition()].append(m)
    assert sorted(by_partition) == sorted(expected)
    for p, msgs in by_partition.items():
        assert [m.topic() for m in msgs] == [topic] * len(msgs)
        assert [m.offset() for m in msgs] == list(range(len(expected[p]))), f"offsets of partition {p}"
        assert [as_tuple(m) for m in msgs] == expected[p], f"records of partition {p}"
    # The delivery reports named the offsets the records were stored at.
    for (_, msg), (_p, key, value, *_rest) in zip(reports, records):
        stored = by_partition[msg.partition()][msg.offset()]
        assert (stored.key(), stored.value()) == (key, value)


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_null_and_empty_keys_and_values_stay_distinct(bootstrap, make_topic, codec):
    topic = make_topic(f"nulls-{codec}", 1)
    cases = [
        (None, b"value-with-null-key"),
        (b"", b"value-with-empty-key"),
        (b"key-with-null-value", None),
        (b"key-with-empty-value", b""),
        (None, None),
        (b"", b""),
    ]
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": codec})
    reports = produce_all(producer, topic, [(0, k, v, [], BASE_TS + i) for i, (k, v) in enumerate(cases)])
    assert [(err, msg.offset()) for err, msg in reports] == [(None, i) for i in range(len(cases))]

    consumer = assign_from_beginning(bootstrap, topic, 1)
    try:
        got = consume_n(consumer, len(cases))
    finally:
        consumer.close()
    assert [(m.offset(), m.key(), m.value(), m.headers()) for m in got] == [
        (i, k, v, None) for i, (k, v) in enumerate(cases)
    ]


def test_delivery_reports_carry_consecutive_offsets(bootstrap, make_topic):
    topic = make_topic("dr-offsets", 2)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})

    first = produce_all(producer, topic, [(1, b"k", f"a{i}".encode(), [], BASE_TS + i) for i in range(5)])
    second = produce_all(producer, topic, [(1, b"k", f"b{i}".encode(), [], BASE_TS + i) for i in range(3)])
    other = produce_all(producer, topic, [(0, b"k", b"c", [], BASE_TS)])

    for err, msg in first + second + other:
        assert err is None
        assert msg.topic() == topic
        assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, msg.timestamp()[1])
    assert [msg.offset() for _, msg in first] == [0, 1, 2, 3, 4]
    assert [msg.offset() for _, msg in second] == [5, 6, 7]
    assert [(msg.partition(), msg.offset()) for _, msg in other] == [(0, 0)]
    assert [msg.timestamp()[1] for _, msg in first] == [BASE_TS + i for i in range(5)]


def test_record_over_broker_message_max_bytes_fails_msg_size_too_large(bootstrap, make_topic):
    topic = make_topic("too-large", 1)
    # The client would refuse it itself at its default message.max.bytes (1 MB);
    # raise that so the broker is the one to say no.
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "message.max.bytes": 4_000_000,
            "compression.type": "none",
            "retries": 0,
        }
    )
    big = bytes(range(256)) * (2 * 1024 * 1024 // 256)  # 2 MiB, over the broker's 1 MiB default
    (err, msg), = produce_all(producer, topic, [(0, b"big", big, [], BASE_TS)])
    assert err is not None
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE  # broker MESSAGE_TOO_LARGE, 10
    assert err.str().startswith("Broker:"), err.str()  # the broker's answer, not a local check

    # Nothing was written; the next record still gets offset 0.
    (err, msg), = produce_all(producer, topic, [(0, b"small", b"ok", [], BASE_TS)])
    assert err is None
    assert msg.offset() == 0
