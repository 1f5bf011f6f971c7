package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Fetch on an empty partition, past the end, and a long poll woken by a produce. */
class EmptyPartitionTest {
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

    @Test
    void pollOnEmptyPartitionReturnsNothing() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("empty"), 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<byte[], byte[]> c = Compat.consumer()) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            for (int i = 0; i < 3; i++) {
                long start = System.nanoTime();
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofSeconds(2));
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertTrue(recs.isEmpty(), "poll " + i + " returned " + recs.count() + " records");
                assertTrue(ms < 7_000, "poll(2s) took " + ms + " ms");
            }
            assertEquals(0, c.position(tp, OP_TIMEOUT), "position");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /** Fetch at an offset past the end: OFFSET_OUT_OF_RANGE, thrown when auto.offset.reset=none. */
    @Test
    void fetchPastEndWithResetNoneThrowsOffsetOutOfRange() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("out-of-range"), 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Compat.bootstrap());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 500);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.assign(List.of(tp));
            c.seek(tp, 5);
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            Exception thrown = null;
            while (thrown == null && System.nanoTime() < deadline) {
                try {
                    ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(500));
                    assertTrue(recs.isEmpty(), "records from an empty partition");
                } catch (OffsetOutOfRangeException e) {
                    thrown = e;
                }
            }
            assertInstanceOf(OffsetOutOfRangeException.class, thrown, "poll at offset 5 of an empty partition");
            assertEquals(5L, ((OffsetOutOfRangeException) thrown).offsetOutOfRangePartitions().get(tp));
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /** A fetch waiting (fetch.max.wait.ms=10s) answers as soon as a record arrives. */
    @Test
    void longPollReturnsSoonAfterProduce() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("long-poll"), 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, Compat.bootstrap());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 10_000);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        ExecutorService ex = Executors.newSingleThreadExecutor();
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try (KafkaProducer<byte[], byte[]> producer = Compat.producer("1", "none")) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertTrue(c.poll(Duration.ofMillis(1000)).isEmpty(), "nothing yet"); // the fetch is now parked
            Future<Long> sentAt = ex.submit(() -> {
                Thread.sleep(1500);
                long at = System.nanoTime();
                producer.send(new ProducerRecord<>(topic, 0, null, "wake".getBytes(StandardCharsets.UTF_8)))
                        .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                return at;
            });
            ConsumerRecords<byte[], byte[]> recs = ConsumerRecords.empty();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (recs.isEmpty() && System.nanoTime() < deadline) {
                recs = c.poll(Duration.ofSeconds(1));
            }
            long gotAt = System.nanoTime();
            assertEquals(1, recs.count(), "the record produced during the long poll");
            long latencyMs = (gotAt - sentAt.get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) / 1_000_000;
            // Kafka answers the parked fetch within ms; not waking it would take ~10 s.
            assertTrue(latencyMs < 4_000, "record reached the consumer " + latencyMs + " ms after the send");
        } finally {
            // Not close(): it would wait out the next parked fetch (10 s).
            c.close(Duration.ofSeconds(1));
            ex.shutdownNow();
            Compat.deleteTopicQuietly(admin, topic);
        }
    }
}
