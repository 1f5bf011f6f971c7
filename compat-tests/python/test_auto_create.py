"""Topic auto-creation (broker default auto.create.topics.enable=true)."""

from confluent_kafka import KafkaError, Producer

from support import OP_TIMEOUT, topic_metadata, unique_topic, wait_for


def test_produce_to_unknown_topic_creates_it_with_default_partition_count(bootstrap, admin):
    topic = unique_topic("auto")
    assert topic_metadata(admin, topic) is None

    # A producer handle asks for the topic with allow_auto_topic_creation=true.
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    reports = []
    producer.produce(topic, key=b"k", value=b"first", on_delivery=lambda err, msg: reports.append((err, msg)))
    assert producer.flush(OP_TIMEOUT) == 0
    ((err, msg),) = reports
    assert err is None, err
    assert (msg.topic(), msg.partition(), msg.offset()) == (topic, 0, 0)

    # num.partitions, 1 by default.
    md = wait_for(lambda: topic_metadata(admin, topic), f"{topic} in metadata")
    assert sorted(md.partitions) == [0]
    assert md.partitions[0].leader in admin.list_topics(timeout=OP_TIMEOUT).brokers

    futures = admin.delete_topics([topic], request_timeout=OP_TIMEOUT)
    futures[topic].result(timeout=OP_TIMEOUT)


def test_metadata_for_unknown_topic_without_auto_create_flag_does_not_create_it(bootstrap, admin):
    topic = unique_topic("no-auto")
    # The admin fixture sets allow.auto.create.topics=false: its Metadata
    # requests carry allow_auto_topic_creation=false.
    md = admin.list_topics(topic, timeout=OP_TIMEOUT)
    assert md.topics[topic].error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART  # 3
    assert md.topics[topic].partitions == {}
    assert topic_metadata(admin, topic) is None


def test_metadata_for_unknown_topic_with_auto_create_flag_creates_it(bootstrap, admin):
    topic = unique_topic("auto-md")
    # A producer handle's Metadata requests carry allow_auto_topic_creation=true.
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.list_topics(topic, timeout=OP_TIMEOUT)
    md = wait_for(lambda: topic_metadata(admin, topic), f"{topic} to be created by a Metadata request")
    assert sorted(md.partitions) == [0]
    futures = admin.delete_topics([topic], request_timeout=OP_TIMEOUT)
    futures[topic].result(timeout=OP_TIMEOUT)
