"""ListOffsets through librdkafka: watermarks and offsets_for_times."""

import time

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

from support import OP_TIMEOUT, unique_topic

BASE_TS = int(time.time() * 1000) - 86_400_000


def make_consumer(bootstrap):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_topic("unused-group"),
            "enable.auto.commit": False,
        }
    )


def produce(bootstrap, topic, timestamps, one_batch_each):
    """Produce one record per timestamp to partition 0; return their offsets."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 50})
    offsets = []

    def cb(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for i, ts in enumerate(timestamps):
        producer.produce(topic, key=b"k", value=f"v{i}".encode(), partition=0, timestamp=ts, on_delivery=cb)
        if one_batch_each:
            assert producer.flush(OP_TIMEOUT) == 0
    assert producer.flush(OP_TIMEOUT) == 0
    assert offsets == list(range(len(timestamps)))


def offset_for_time(consumer, topic, ts):
    (tp,) = consumer.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=OP_TIMEOUT)
    assert tp.error is None, tp.error
    return tp.offset


def test_watermarks_of_empty_partition_are_zero(bootstrap, make_topic):
    topic = make_topic("wm-empty", 2)
    consumer = make_consumer(bootstrap)
    try:
        for p in range(2):
            assert consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=OP_TIMEOUT, cached=False) == (0, 0)
    finally:
        consumer.close()


def test_watermarks_after_produce_are_zero_and_record_count(bootstrap, make_topic):
    topic = make_topic("wm", 2)
    produce(bootstrap, topic, [BASE_TS + i for i in range(10)], one_batch_each=False)
    consumer = make_consumer(bootstrap)
    try:
        assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=OP_TIMEOUT, cached=False) == (0, 10)
        assert consumer.get_watermark_offsets(TopicPartition(topic, 1), timeout=OP_TIMEOUT, cached=False) == (0, 0)
    finally:
        consumer.close()


def check_offsets_for_times(bootstrap, topic, one_batch_each):
    # Ten records, one second apart.
    timestamps = [BASE_TS + 1000 * i for i in range(10)]
    produce(bootstrap, topic, timestamps, one_batch_each)
    consumer = make_consumer(bootstrap)
    try:
        assert offset_for_time(consumer, topic, BASE_TS + 4000) == 4  # exact match
        assert offset_for_time(consumer, topic, BASE_TS + 4500) == 5  # first ts >= T
        assert offset_for_time(consumer, topic, BASE_TS + 1) == 1
        assert offset_for_time(consumer, topic, BASE_TS) == 0
        assert offset_for_time(consumer, topic, 0) == 0  # before everything
        assert offset_for_time(consumer, topic, BASE_TS + 9000) == 9  # the last one
        # Past the last timestamp: no such offset, -1 (librdkafka's OFFSET_END).
        assert offset_for_time(consumer, topic, BASE_TS + 9001) == OFFSET_END == -1
    finally:
        consumer.close()


def test_offsets_for_times_within_one_batch(bootstrap, make_topic):
    check_offsets_for_times(bootstrap, make_topic("oft-batch", 1), one_batch_each=False)


def test_offsets_for_times_across_batches(bootstrap, make_topic):
    check_offsets_for_times(bootstrap, make_topic("oft-batches", 1), one_batch_each=True)


def test_offsets_for_times_with_out_of_order_timestamps_finds_first_offset_at_or_after(bootstrap, make_topic):
    topic = make_topic("oft-unordered", 1)
    # offset:       0     1     2     3     4
    timestamps = [1000, 3000, 2000, 5000, 4000]
    produce(bootstrap, topic, [BASE_TS + t for t in timestamps], one_batch_each=True)
    consumer = make_consumer(bootstrap)
    try:
        # The earliest offset whose timestamp is >= T, not the smallest timestamp >= T.
        assert offset_for_time(consumer, topic, BASE_TS + 2000) == 1
        assert offset_for_time(consumer, topic, BASE_TS + 2500) == 1
        assert offset_for_time(consumer, topic, BASE_TS + 3500) == 3
        assert offset_for_time(consumer, topic, BASE_TS + 4500) == 3
        assert offset_for_time(consumer, topic, BASE_TS + 5001) == -1
    finally:
        consumer.close()


def test_offsets_for_times_on_empty_partition_is_minus_one(bootstrap, make_topic):
    topic = make_topic("oft-empty", 1)
    consumer = make_consumer(bootstrap)
    try:
        assert offset_for_time(consumer, topic, BASE_TS) == -1
    finally:
        consumer.close()
