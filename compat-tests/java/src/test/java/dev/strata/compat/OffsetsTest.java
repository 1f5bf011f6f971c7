package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static dev.strata.compat.Compat.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** ListOffsets through the consumer (beginning/end/offsetsForTimes) and the admin client. */
class OffsetsTest {
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

    /** Produces one record per timestamp to partition 0, each its own batch (send().get()). */
    static void produce(String topic, long... timestamps) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = Compat.producer("all", "none")) {
            for (int i = 0; i < timestamps.length; i++) {
                long off = producer.send(new ProducerRecord<>(topic, 0, timestamps[i],
                        ("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8)))
                        .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).offset();
                assertEquals(i, off, "offset of record " + i);
            }
        }
    }

    static long baseTime() {
        return (System.currentTimeMillis() / 1000 - 600) * 1000;
    }

    @Test
    void beginningEndAndOffsetsForTimes() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("offsets"), 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1); // stays empty
        long t = baseTime();
        try {
            produce(topic, t, t + 10, t + 20, t + 30, t + 40);
            try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
                assertEquals(Map.of(p0, 0L, p1, 0L), c.beginningOffsets(List.of(p0, p1), OP_TIMEOUT));
                assertEquals(Map.of(p0, 5L, p1, 0L), c.endOffsets(List.of(p0, p1), OP_TIMEOUT));

                long[][] cases = {
                    // target time, expected offset, expected timestamp
                    {t - 60_000, 0, t},
                    {t, 0, t},
                    {t + 1, 1, t + 10},
                    {t + 15, 2, t + 20},
                    {t + 40, 4, t + 40},
                };
                for (long[] k : cases) {
                    Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(Map.of(p0, k[0]), OP_TIMEOUT);
                    OffsetAndTimestamp ot = r.get(p0);
                    assertNotNull(ot, "offsetsForTimes(t" + (k[0] - t) + ") found nothing");
                    assertEquals(k[1], ot.offset(), "offsetsForTimes(t" + (k[0] - t) + ") offset");
                    assertEquals(k[2], ot.timestamp(), "offsetsForTimes(t" + (k[0] - t) + ") timestamp");
                }

                // Past the last timestamp, and on an empty partition: null.
                Map<TopicPartition, Long> query = new HashMap<>();
                query.put(p0, t + 41);
                query.put(p1, t);
                Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(query, OP_TIMEOUT);
                assertTrue(r.containsKey(p0) && r.containsKey(p1), "both partitions answered: " + r);
                assertNull(r.get(p0), "offsetsForTimes past the last timestamp");
                assertNull(r.get(p1), "offsetsForTimes on an empty partition");
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /** Kafka answers the first offset whose timestamp is >= the target, in offset order. */
    @Test
    void offsetsForTimesWithOutOfOrderTimestamps() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("offsets-ooo"), 1);
        TopicPartition p0 = new TopicPartition(topic, 0);
        long t = baseTime();
        try {
            produce(topic, t + 100, t, t + 300, t + 200, t + 50);
            try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
                long[][] cases = {
                    {t, 0, t + 100},
                    {t + 101, 2, t + 300},
                    {t + 250, 2, t + 300},
                    {t + 300, 2, t + 300},
                };
                for (long[] k : cases) {
                    OffsetAndTimestamp ot = c.offsetsForTimes(Map.of(p0, k[0]), OP_TIMEOUT).get(p0);
                    assertNotNull(ot, "offsetsForTimes(t+" + (k[0] - t) + ") found nothing");
                    assertEquals(k[1], ot.offset(), "offsetsForTimes(t+" + (k[0] - t) + ") offset");
                    assertEquals(k[2], ot.timestamp(), "offsetsForTimes(t+" + (k[0] - t) + ") timestamp");
                }
                assertNull(c.offsetsForTimes(Map.of(p0, t + 301), OP_TIMEOUT).get(p0), "past the max timestamp");
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /** Admin.listOffsets: earliest, latest, a timestamp, and max timestamp (ListOffsets v7+). */
    @Test
    void adminListOffsets() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("offsets-admin"), 1);
        TopicPartition p0 = new TopicPartition(topic, 0);
        long t = baseTime();
        try {
            produce(topic, t, t + 300, t + 100);
            assertEquals(0, listOffsets(p0, OffsetSpec.earliest()).offset(), "earliest");
            assertEquals(3, listOffsets(p0, OffsetSpec.latest()).offset(), "latest");
            ListOffsetsResultInfo at = listOffsets(p0, OffsetSpec.forTimestamp(t + 50));
            assertEquals(1, at.offset(), "forTimestamp(t+50) offset");
            assertEquals(t + 300, at.timestamp(), "forTimestamp(t+50) timestamp");
            ListOffsetsResultInfo max = listOffsets(p0, OffsetSpec.maxTimestamp());
            assertEquals(1, max.offset(), "maxTimestamp offset");
            assertEquals(t + 300, max.timestamp(), "maxTimestamp timestamp");
            ListOffsetsResultInfo past = listOffsets(p0, OffsetSpec.forTimestamp(t + 301));
            assertEquals(-1, past.offset(), "forTimestamp past the end");
            assertEquals(-1, past.timestamp(), "forTimestamp past the end: timestamp");
            // Kafka answers leader_epoch -1 (no epoch) when no offset was found.
            assertEquals(Optional.empty(), past.leaderEpoch(), "forTimestamp past the end: leader epoch");
            assertTrue(at.leaderEpoch().isPresent(), "forTimestamp: a leader epoch");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    static ListOffsetsResultInfo listOffsets(TopicPartition tp, OffsetSpec spec) throws Exception {
        return get(admin.listOffsets(Map.of(tp, spec)).partitionResult(tp));
    }
}
