package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static dev.strata.compat.Compat.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** AdminClient: CreateTopics, Metadata (describeTopics, listTopics), DeleteTopics. */
class AdminTest {
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
    void describeClusterShowsOneBroker() throws Exception {
        DescribeClusterResult r = admin.describeCluster();
        Collection<Node> nodes = get(r.nodes());
        assertEquals(1, nodes.size(), "nodes: " + nodes);
        Node controller = get(r.controller());
        assertNotNull(controller);
        assertNotNull(get(r.clusterId()), "cluster id");
    }

    @Test
    void createTopicThenDescribeShowsPartitionsAndLeaders() throws Exception {
        String topic = Compat.uniqueTopic("admin-create");
        try {
            get(admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all());
            // Kafka's brokers learn of a new topic a moment after the
            // controller answers; a few tries cover that, never a missing topic.
            TopicDescription d = Compat.waitFor(topic + " in describeTopics", OP_TIMEOUT, () -> {
                try {
                    TopicDescription t = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                    return t.partitions().size() == 3 && t.partitions().stream().allMatch(p -> p.leader() != null)
                            ? t : null;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            assertEquals(topic, d.name());
            assertFalse(d.isInternal());
            Set<Node> nodes = Set.copyOf(get(admin.describeCluster().nodes()));
            for (int i = 0; i < 3; i++) {
                TopicPartitionInfo p = d.partitions().get(i);
                assertEquals(i, p.partition(), "partitions in order");
                assertNotNull(p.leader(), "leader of partition " + i);
                assertFalse(p.leader().isEmpty(), "leader of partition " + i + " is Node.noNode()");
                assertTrue(nodes.contains(p.leader()), "leader " + p.leader() + " is one of " + nodes);
                assertEquals(List.of(p.leader()), p.replicas(), "replicas of partition " + i);
                assertEquals(List.of(p.leader()), p.isr(), "isr of partition " + i);
            }
            assertTrue(get(admin.listTopics().names()).contains(topic), "listTopics has " + topic);
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void createExistingTopicFailsWithTopicExists() throws Exception {
        String topic = Compat.uniqueTopic("admin-exists");
        try {
            Compat.createTopic(admin, topic, 1);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> get(admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all()));
            assertInstanceOf(TopicExistsException.class, e.getCause(), "cause: " + e.getCause());
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void replicationFactorAboveBrokerCountFails() throws Exception {
        String topic = Compat.uniqueTopic("admin-rf3");
        try {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> get(admin.createTopics(List.of(new NewTopic(topic, 1, (short) 3))).all()));
            assertInstanceOf(InvalidReplicationFactorException.class, e.getCause(), "cause: " + e.getCause());
            assertFalse(get(admin.listTopics().names()).contains(topic), "the failed topic was not created");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void deleteTopicRemovesItFromListTopics() throws Exception {
        String topic = Compat.uniqueTopic("admin-delete");
        Compat.createTopic(admin, topic, 2);
        assertTrue(get(admin.listTopics().names()).contains(topic), "listTopics has " + topic + " before the delete");
        get(admin.deleteTopics(List.of(topic)).all());
        // Kafka: the controller has committed the delete when it answers; the
        // broker's metadata follows within moments.
        Compat.waitFor(topic + " gone from listTopics", OP_TIMEOUT, () -> {
            try {
                Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get();
                return names.contains(topic) ? null : names;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    @Test
    void createTopicsResultCarriesPartitionsReplicationIdAndConfigs() throws Exception {
        String topic = Compat.uniqueTopic("admin-result");
        try {
            CreateTopicsResult r = admin.createTopics(List.of(
                    new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "123456789"))));
            get(r.all());
            assertEquals(3, get(r.numPartitions(topic)), "numPartitions");
            assertEquals(1, get(r.replicationFactor(topic)), "replicationFactor");
            Uuid id = get(r.topicId(topic));
            assertNotNull(id);
            assertFalse(Uuid.ZERO_UUID.equals(id), "topic id is not zero");
            Config c = get(r.config(topic));
            assertEquals("123456789", c.get("retention.ms").value(), "retention.ms as set");
            assertEquals("delete", c.get("cleanup.policy").value(), "cleanup.policy default");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void createTopicWithBrokerDefaults() throws Exception {
        String topic = Compat.uniqueTopic("admin-defaults");
        try {
            CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(topic, Optional.empty(), Optional.empty())));
            get(r.all());
            assertEquals(1, get(r.numPartitions(topic)), "num.partitions (1 on Kafka's config and Strata's)");
            assertEquals(1, get(r.replicationFactor(topic)), "default.replication.factor");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void createTopicValidateOnlyCreatesNothing() throws Exception {
        String topic = Compat.uniqueTopic("admin-validate");
        try {
            get(admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1)),
                    new CreateTopicsOptions().validateOnly(true)).all());
            assertFalse(get(admin.listTopics().names()).contains(topic), "validateOnly made " + topic);
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void createTopicWithBadNameOrPartitionCountFails() throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> get(admin.createTopics(List.of(new NewTopic("bad name!", 1, (short) 1))).all()));
        assertInstanceOf(InvalidTopicException.class, e.getCause(), "bad name; cause: " + e.getCause());
        String topic = Compat.uniqueTopic("admin-zero");
        e = assertThrows(ExecutionException.class,
                () -> get(admin.createTopics(List.of(new NewTopic(topic, 0, (short) 1))).all()));
        assertInstanceOf(InvalidPartitionsException.class, e.getCause(), "0 partitions; cause: " + e.getCause());
        Compat.deleteTopicQuietly(admin, topic);
    }

    @Test
    void describeAndDeleteMissingTopicFail() throws Exception {
        String topic = Compat.uniqueTopic("admin-missing");
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> get(admin.describeTopics(List.of(topic)).allTopicNames()));
        assertInstanceOf(UnknownTopicOrPartitionException.class, e.getCause(), "describe; cause: " + e.getCause());
        e = assertThrows(ExecutionException.class, () -> get(admin.deleteTopics(List.of(topic)).all()));
        assertInstanceOf(UnknownTopicOrPartitionException.class, e.getCause(), "delete; cause: " + e.getCause());
        assertFalse(get(admin.listTopics().names()).contains(topic), "describing a missing topic created it");
    }

    /** Metadata v10+ and DeleteTopics v6+ by topic id. */
    @Test
    void describeAndDeleteByTopicId() throws Exception {
        String topic = Compat.uniqueTopic("admin-by-id");
        CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1)));
        get(r.all());
        Uuid id = get(r.topicId(topic));
        try {
            Map<Uuid, TopicDescription> byId = Compat.waitFor(topic + " by id", OP_TIMEOUT, () -> {
                try {
                    return admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds().get();
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            });
            TopicDescription d = byId.get(id);
            assertNotNull(d, "description by id: " + byId);
            assertEquals(topic, d.name());
            assertEquals(id, d.topicId());
            assertEquals(2, d.partitions().size());
            get(admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all());
            Compat.waitFor(topic + " gone after delete by id", OP_TIMEOUT, () -> {
                try {
                    return admin.listTopics().names().get().contains(topic) ? null : true;
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            });
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds()));
            assertInstanceOf(UnknownTopicIdException.class, e.getCause(), "describe a deleted id; cause: " + e.getCause());
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }
}
