// One member of a consumer group (the Java client, classic or consumer
// protocol), run as its own OS process by groups_test.py; the Java twin of
// worker.py, with the same JSON-lines log (see there): P before the
// synchronous commit of offset+1, C only after it succeeded, a failed commit
// rewinds the partition.
//
// Compiled by run.sh with javac against kafka-clients from Kafka's jars
// (compat-tests/apache-kafka.sh fetch), so no Maven build is needed.
//
// Usage: java -cp CLASSES:KAFKA_LIB/* GroupWorker BOOTSTRAP GROUP TOPIC ID LOG
//            SESSION_TIMEOUT_MS HEARTBEAT_MS ASSIGNOR MAX_SECONDS [PROTOCOL]
// PROTOCOL: classic (default) or consumer (KIP-848). With consumer the
// session timeout and heartbeat interval are the broker's
// (group.consumer.session.timeout.ms, group.consumer.heartbeat.interval.ms),
// so SESSION_TIMEOUT_MS and HEARTBEAT_MS are not used, and ASSIGNOR names
// the server-side assignor (group.remote.assignor; "uniform" is Kafka's
// default and is then left unset).
// SIGTERM: finish the current record, close() (LeaveGroup), exit 0. Stops by
// itself after MAX_SECONDS or when its parent process is gone.
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class GroupWorker {
    static FileOutputStream out;

    static synchronized void emit(String json) {
        String line = json.substring(0, json.length() - 1)
                + ",\"t\":" + String.format(Locale.ROOT, "%.3f", System.currentTimeMillis() / 1000.0) + "}\n";
        try {
            out.write(line.getBytes(StandardCharsets.UTF_8)); // one write(2) per line
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static String parts(Collection<Integer> ps) {
        List<Integer> l = new ArrayList<>(ps);
        Collections.sort(l);
        StringJoiner j = new StringJoiner(",", "[", "]");
        for (int p : l) j.add(Integer.toString(p));
        return j.toString();
    }

    public static void main(String[] a) throws Exception {
        String bootstrap = a[0], group = a[1], topic = a[2], id = a[3], log = a[4];
        int sessionMs = Integer.parseInt(a[5]), heartbeatMs = Integer.parseInt(a[6]);
        String assignor = a[7];
        long maxMs = (long) (Double.parseDouble(a[8]) * 1000);
        String protocol = a.length > 9 ? a[9] : "classic";
        out = new FileOutputStream(log, true);

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, id);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // A member gives up partitions only between polls, and each record
        // costs a synchronous commit: a full 500-record batch would hold a
        // rebalance up for seconds.
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
        if (protocol.equals("classic")) {
            props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, Integer.toString(sessionMs));
            props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Integer.toString(heartbeatMs));
            props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                    assignor.equals("cooperative-sticky") ? CooperativeStickyAssignor.class.getName()
                            : assignor.equals("roundrobin") ? RoundRobinAssignor.class.getName()
                            : RangeAssignor.class.getName());
        } else if (!assignor.equals("uniform")) {
            props.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, assignor);
        }
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());

        Set<Integer> owned = new TreeSet<>();
        volatile_stop = false;
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            volatile_stop = true;
            try {
                done.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
            }
        }));

        Optional<ProcessHandle> parent = ProcessHandle.current().parent();
        long deadline = System.currentTimeMillis() + maxMs;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                    for (TopicPartition tp : ps) owned.remove(tp.partition());
                    emit("{\"ev\":\"assign\",\"parts\":" + parts(owned) + ",\"why\":\"revoke\"}");
                }

                public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                    for (TopicPartition tp : ps) owned.add(tp.partition());
                    emit("{\"ev\":\"assign\",\"parts\":" + parts(owned) + "}");
                }

                public void onPartitionsLost(Collection<TopicPartition> ps) {
                    for (TopicPartition tp : ps) owned.remove(tp.partition());
                    emit("{\"ev\":\"assign\",\"parts\":" + parts(owned) + ",\"why\":\"lost\"}");
                }
            });
            emit("{\"ev\":\"start\",\"pid\":" + ProcessHandle.current().pid() + "}");
            while (!volatile_stop) {
                if (System.currentTimeMillis() > deadline || parent.map(ph -> !ph.isAlive()).orElse(false)) {
                    emit("{\"ev\":\"error\",\"err\":\"stopping by itself (max-seconds or parent gone)\"}");
                    break;
                }
                ConsumerRecords<String, String> recs;
                try {
                    recs = consumer.poll(Duration.ofMillis(300));
                } catch (KafkaException e) {
                    emit("{\"ev\":\"error\",\"err\":" + q(e.toString()) + "}");
                    Thread.sleep(200);
                    continue;
                }
                Set<Integer> rewound = new HashSet<>();
                for (ConsumerRecord<String, String> r : recs) {
                    int p = r.partition();
                    long o = r.offset();
                    if (rewound.contains(p)) continue;
                    emit("{\"ev\":\"P\",\"p\":" + p + ",\"o\":" + o + ",\"v\":" + q(r.value()) + "}");
                    TopicPartition tp = new TopicPartition(topic, p);
                    try {
                        consumer.commitSync(Map.of(tp, new OffsetAndMetadata(o + 1)), Duration.ofSeconds(15));
                        emit("{\"ev\":\"C\",\"p\":" + p + ",\"o\":" + o + ",\"v\":" + q(r.value()) + "}");
                    } catch (KafkaException e) {
                        emit("{\"ev\":\"commit_failed\",\"p\":" + p + ",\"o\":" + o + ",\"err\":" + q(e.toString()) + "}");
                        rewound.add(p);
                        Thread.sleep(50); // the next poll() moves the rebalance on; don't spin
                        try {
                            if (consumer.assignment().contains(tp)) consumer.seek(tp, o);
                        } catch (KafkaException e2) {
                            emit("{\"ev\":\"seek_failed\",\"p\":" + p + ",\"o\":" + o + ",\"err\":" + q(e2.toString()) + "}");
                        }
                    }
                }
            }
        } finally {
            emit("{\"ev\":\"closed\"}");
            done.countDown();
        }
    }

    static volatile boolean volatile_stop;
}
