package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * KafkaProducer (every acks, every codec) to explicit partitions, then a
 * KafkaConsumer (assign + seekToBeginning, no group) reads everything back.
 */
class ProduceConsumeTest {
    static final int PARTITIONS = 3;
    static final int PER_PARTITION = 20;

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

    static Stream<Arguments> acksAndCodecs() {
        List<Arguments> out = new ArrayList<>();
        for (String acks : List.of("all", "1", "0")) {
            for (String codec : List.of("none", "gzip", "snappy", "lz4", "zstd")) {
                out.add(Arguments.of(acks, codec));
            }
        }
        return out.stream();
    }

    /** The i-th record for partition p: some without key, value or headers. */
    static ProducerRecord<byte[], byte[]> record(String topic, int p, int i, long baseTs) {
        byte[] key = i == 3 ? null : ("key-" + p + "-" + i).getBytes(StandardCharsets.UTF_8);
        byte[] value;
        if (i == 5) {
            value = null; // a tombstone
        } else if (i == 7) {
            value = new byte[0];
        } else {
            StringBuilder sb = new StringBuilder();
            int repeat = i == 10 ? 3000 : 1 + i * 7; // one ~60 KB value
            for (int r = 0; r < repeat; r++) {
                sb.append("value ").append(p).append('/').append(i).append(" #").append(r).append(' ');
            }
            value = sb.toString().getBytes(StandardCharsets.UTF_8);
        }
        List<Header> headers = new ArrayList<>();
        if (i % 3 != 0) {
            headers.add(new RecordHeader("h1", ("v" + i).getBytes(StandardCharsets.UTF_8)));
            headers.add(new RecordHeader("dup", "a".getBytes(StandardCharsets.UTF_8)));
            headers.add(new RecordHeader("dup", "b".getBytes(StandardCharsets.UTF_8)));
            headers.add(new RecordHeader("null-value", null));
            headers.add(new RecordHeader("bin", new byte[] {0, (byte) 0xff, (byte) i}));
        }
        return new ProducerRecord<>(topic, p, baseTs + p * 1000L + i, key, value, headers);
    }

    @ParameterizedTest(name = "acks={0} compression={1}")
    @MethodSource("acksAndCodecs")
    void producedRecordsReadBackIdentical(String acks, String codec) throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("pc-" + (acks.equals("all") ? "all" : acks) + "-" + codec),
                PARTITIONS);
        // A fixed time a few minutes back: well inside any retention.
        long baseTs = (System.currentTimeMillis() / 1000 - 300) * 1000;
        try {
            Map<TopicPartition, List<ProducerRecord<byte[], byte[]>>> sent = new HashMap<>();
            Map<TopicPartition, List<Future<RecordMetadata>>> futures = new HashMap<>();
            try (KafkaProducer<byte[], byte[]> producer = Compat.producer(acks, codec)) {
                // Interleave the partitions so that a request carries several.
                for (int i = 0; i < PER_PARTITION; i++) {
                    for (int p = 0; p < PARTITIONS; p++) {
                        ProducerRecord<byte[], byte[]> r = record(topic, p, i, baseTs);
                        TopicPartition tp = new TopicPartition(topic, p);
                        sent.computeIfAbsent(tp, k -> new ArrayList<>()).add(r);
                        futures.computeIfAbsent(tp, k -> new ArrayList<>()).add(producer.send(r));
                    }
                }
                producer.flush();
                for (int p = 0; p < PARTITIONS; p++) {
                    TopicPartition tp = new TopicPartition(topic, p);
                    List<Future<RecordMetadata>> fs = futures.get(tp);
                    for (int i = 0; i < fs.size(); i++) {
                        RecordMetadata md = fs.get(i).get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                        assertEquals(topic, md.topic());
                        assertEquals(p, md.partition());
                        if (acks.equals("0")) {
                            // acks=0: no answer, so no offset (Kafka's client gives -1)
                            assertFalse(md.hasOffset(), "acks=0 has no offset: " + md.offset());
                        } else {
                            assertEquals(i, md.offset(), "offset of record " + i + " in partition " + p);
                        }
                        assertEquals(sent.get(tp).get(i).timestamp(), md.timestamp(),
                                "CreateTime topic: RecordMetadata.timestamp is the record's");
                    }
                }
            }

            Map<TopicPartition, Integer> expected = new HashMap<>();
            for (TopicPartition tp : Compat.partitions(topic, PARTITIONS)) {
                expected.put(tp, PER_PARTITION);
            }
            try (KafkaConsumer<byte[], byte[]> consumer = Compat.consumer()) {
                consumer.assign(expected.keySet());
                consumer.seekToBeginning(expected.keySet());
                Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> got = Compat.consumeAll(consumer, expected);
                for (TopicPartition tp : expected.keySet()) {
                    List<ConsumerRecord<byte[], byte[]>> recs = got.get(tp);
                    assertEquals(PER_PARTITION, recs.size(), "records read back from " + tp);
                    for (int i = 0; i < PER_PARTITION; i++) {
                        assertSame(sent.get(tp).get(i), recs.get(i), i);
                    }
                    assertEquals(PER_PARTITION, consumer.position(tp, OP_TIMEOUT), "position of " + tp);
                }
                Map<TopicPartition, Long> end = consumer.endOffsets(expected.keySet(), OP_TIMEOUT);
                for (TopicPartition tp : expected.keySet()) {
                    assertEquals(PER_PARTITION, end.get(tp), "end offset of " + tp);
                }
            }

            // Fetch from the middle of a (compressed) batch: the broker sends
            // the whole batch; the client drops the records before the offset.
            try (KafkaConsumer<byte[], byte[]> consumer = Compat.consumer()) {
                TopicPartition tp = new TopicPartition(topic, 1);
                consumer.assign(List.of(tp));
                consumer.seek(tp, 7);
                List<ConsumerRecord<byte[], byte[]>> recs = Compat.consumeAll(consumer, Map.of(tp, PER_PARTITION - 7)).get(tp);
                assertEquals(PER_PARTITION - 7, recs.size(), "records from offset 7 of " + tp);
                for (int i = 7; i < PER_PARTITION; i++) {
                    assertSame(sent.get(tp).get(i), recs.get(i - 7), i);
                }
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    static void assertSame(ProducerRecord<byte[], byte[]> want, ConsumerRecord<byte[], byte[]> got, int offset) {
        String where = got.topic() + "-" + got.partition() + "@" + got.offset();
        assertEquals(offset, got.offset(), "offset at " + where);
        assertArrayEquals(want.key(), got.key(), "key at " + where);
        assertArrayEquals(want.value(), got.value(), "value at " + where);
        assertEquals(want.timestamp(), got.timestamp(), "timestamp at " + where);
        assertEquals(TimestampType.CREATE_TIME, got.timestampType(), "timestamp type at " + where);
        Header[] wantH = want.headers().toArray();
        Header[] gotH = got.headers().toArray();
        assertEquals(wantH.length, gotH.length, "header count at " + where);
        for (int h = 0; h < wantH.length; h++) {
            assertEquals(wantH[h].key(), gotH[h].key(), "header " + h + " key at " + where);
            assertArrayEquals(wantH[h].value(), gotH[h].value(), "header " + h + " value at " + where);
        }
        assertTrue(got.serializedKeySize() == (want.key() == null ? -1 : want.key().length), "serializedKeySize at " + where);
        assertTrue(got.serializedValueSize() == (want.value() == null ? -1 : want.value().length),
                "serializedValueSize at " + where);
    }
}
