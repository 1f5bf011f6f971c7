package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Fetch size limits, many batches, and LogAppendTime topics. */
class FetchTest {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Compat.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) {
            admin.close(OP_TIMEOUT);
        }
    }

    /**
     * Batches larger than max.partition.fetch.bytes and fetch.max.bytes:
     * the broker still returns the first batch whole (KIP-74), so the
     * consumer makes progress.
     */
    @Test
    void batchesLargerThanFetchLimitsStillArrive() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("fetch-small"), 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        List<byte[]> values = new ArrayList<>();
        try {
            try (KafkaProducer<byte[], byte[]> p = Compat.producer("1", "none")) {
                for (int i = 0; i < 5; i++) {
                    byte[] v = new byte[20_000 + i];
                    java.util.Arrays.fill(v, (byte) ('a' + i));
                    values.add(v);
                    p.send(new ProducerRecord<>(topic, 0, null, v)).get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
            Properties props = new Properties();
            props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Compat.bootstrap());
            props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 1024);
            props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 1024);
            props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 200);
            props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<byte[], byte[]>> got = Compat.consumeAll(c, Map.of(tp, 5)).get(tp);
                assertEquals(5, got.size(), "records read with 1 KiB fetch limits");
                for (int i = 0; i < 5; i++) {
                    assertEquals(i, got.get(i).offset());
                    assertArrayEquals(values.get(i), got.get(i).value(), "value at offset " + i);
                }
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /** Many records in many batches per partition, several partitions per request. */
    @Test
    void manyRecordsManyBatches() throws Exception {
        int partitions = 3;
        int perPartition = 10_000;
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("fetch-bulk"), partitions);
        try {
            Map<TopicPartition, CRC32> sentCrc = new HashMap<>();
            Properties pp = Compat.producerProps("1", "lz4");
            pp.put(ProducerConfig.BATCH_SIZE_CONFIG, 32 * 1024);
            pp.put(ProducerConfig.LINGER_MS_CONFIG, 10);
            List<Future<RecordMetadata>> last = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp)) {
                for (int i = 0; i < perPartition; i++) {
                    for (int part = 0; part < partitions; part++) {
                        byte[] v = ("record " + part + "/" + i + " " + "x".repeat(i % 97)).getBytes(StandardCharsets.UTF_8);
                        sentCrc.computeIfAbsent(new TopicPartition(topic, part), k -> new CRC32()).update(v);
                        Future<RecordMetadata> f = p.send(new ProducerRecord<>(topic, part, ByteBuffer.allocate(4).putInt(i).array(), v));
                        if (i == perPartition - 1) {
                            last.add(f);
                        }
                    }
                }
                p.flush();
                for (int part = 0; part < partitions; part++) {
                    assertEquals(perPartition - 1, last.get(part).get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).offset(),
                            "offset of the last record of partition " + part);
                }
            }
            Map<TopicPartition, Integer> expected = new HashMap<>();
            for (TopicPartition tp : Compat.partitions(topic, partitions)) {
                expected.put(tp, perPartition);
            }
            try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
                c.assign(expected.keySet());
                c.seekToBeginning(expected.keySet());
                Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> got = Compat.consumeAll(c, expected);
                for (TopicPartition tp : expected.keySet()) {
                    List<ConsumerRecord<byte[], byte[]>> recs = got.get(tp);
                    assertEquals(perPartition, recs.size(), "records of " + tp);
                    CRC32 crc = new CRC32();
                    for (int i = 0; i < recs.size(); i++) {
                        assertEquals(i, recs.get(i).offset(), "offsets in order in " + tp);
                        assertEquals(i, ByteBuffer.wrap(recs.get(i).key()).getInt(), "key at " + tp + "@" + i);
                        crc.update(recs.get(i).value());
                    }
                    assertEquals(sentCrc.get(tp).getValue(), crc.getValue(), "CRC of all values of " + tp);
                }
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /**
     * message.timestamp.type=LogAppendTime: the broker stamps each batch with
     * its own clock; the producer learns that time, the consumer sees it
     * with type LOG_APPEND_TIME, and offsetsForTimes goes by it.
     */
    @ParameterizedTest(name = "compression={0}")
    @ValueSource(strings = {"none", "lz4"})
    void logAppendTimeTopic(String codec) throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("log-append-" + codec), 1,
                Map.of("message.timestamp.type", "LogAppendTime"));
        TopicPartition tp = new TopicPartition(topic, 0);
        long createTime = (System.currentTimeMillis() / 1000 - 3600) * 1000; // an hour back
        try {
            long before = System.currentTimeMillis();
            List<RecordMetadata> mds = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> p = Compat.producer("all", codec)) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    fs.add(p.send(new ProducerRecord<>(topic, 0, createTime + i, null, ("v" + i).getBytes(StandardCharsets.UTF_8))));
                }
                for (Future<RecordMetadata> f : fs) {
                    mds.add(f.get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
                }
            }
            long after = System.currentTimeMillis();
            for (RecordMetadata md : mds) {
                assertTrue(md.timestamp() >= before - 1000 && md.timestamp() <= after + 1000,
                        "RecordMetadata.timestamp " + md.timestamp() + " is the broker's append time, within ["
                                + before + ", " + after + "], not the CreateTime " + createTime);
            }
            try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<byte[], byte[]>> recs = Compat.consumeAll(c, Map.of(tp, 5)).get(tp);
                assertEquals(5, recs.size());
                for (int i = 0; i < 5; i++) {
                    ConsumerRecord<byte[], byte[]> r = recs.get(i);
                    assertEquals(TimestampType.LOG_APPEND_TIME, r.timestampType(), "timestamp type at offset " + i);
                    assertEquals(mds.get(i).timestamp(), r.timestamp(), "consumed timestamp = the producer's RecordMetadata at offset " + i);
                    assertNotEquals(createTime + i, r.timestamp(), "CreateTime was replaced at offset " + i);
                }
                OffsetAndTimestamp ot = c.offsetsForTimes(Map.of(tp, createTime + 2), OP_TIMEOUT).get(tp);
                assertEquals(0, ot.offset(), "offsetsForTimes(CreateTime) goes by the append time: offset 0");
                assertEquals(mds.get(0).timestamp(), ot.timestamp(), "offsetsForTimes timestamp");
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /**
     * isolation.level=read_committed: without transactions the last stable
     * offset is the high watermark, so everything is visible; and
     * seekToEnd then poll gives only what comes after.
     */
    @Test
    void readCommittedAndSeekToEnd() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("fetch-rc"), 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> p = Compat.producer("all", "gzip")) {
            for (int i = 0; i < 3; i++) {
                p.send(new ProducerRecord<>(topic, 0, null, ("v" + i).getBytes(StandardCharsets.UTF_8)))
                        .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
            Properties props = new Properties();
            props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Compat.bootstrap());
            props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 300);
            props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                c.assign(List.of(tp));
                c.seekToBeginning(List.of(tp));
                List<ConsumerRecord<byte[], byte[]>> got = Compat.consumeAll(c, Map.of(tp, 3)).get(tp);
                assertEquals(3, got.size(), "read_committed reads the non-transactional records");
                assertEquals(Map.of(tp, 3L), c.endOffsets(List.of(tp), OP_TIMEOUT), "read_committed end offset (LSO)");

                c.seekToEnd(List.of(tp));
                assertEquals(3, c.position(tp, OP_TIMEOUT), "position after seekToEnd");
                p.send(new ProducerRecord<>(topic, 0, null, "after".getBytes(StandardCharsets.UTF_8)))
                        .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                got = Compat.consumeAll(c, Map.of(tp, 1)).get(tp);
                assertEquals(1, got.size(), "records after seekToEnd");
                assertEquals(3, got.get(0).offset());
                assertArrayEquals("after".getBytes(StandardCharsets.UTF_8), got.get(0).value());
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }
}
