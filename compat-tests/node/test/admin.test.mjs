// CreateTopics / DeleteTopics / Metadata through the KafkaJS admin client.

import { test } from 'node:test'
import assert from 'node:assert/strict'

import { OP_TIMEOUT, TEST_TIMEOUT, connectedAdmin, createTopic, uniqueTopic, waitFor } from './support.mjs'

const opts = { timeout: TEST_TIMEOUT }

/** The error a rejected admin call failed with, unwrapped to the broker's error type. */
async function brokerError(promise) {
  const e = await promise.then(
    v => assert.fail(`expected a rejection, got ${JSON.stringify(v)}`),
    e => e,
  )
  return { types: errorTypes(e), error: e }
}

/**
 * The Kafka error types inside a KafkaJS error: a KafkaJSProtocolError carries
 * one, a KafkaJSAggregateError several, and the retrier wraps either in a
 * KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded whose cause it is.
 */
function errorTypes(e) {
  if (e?.errors) return e.errors.flatMap(errorTypes)
  if (e?.type) return [e.type]
  if (e?.cause && e.cause !== e) return errorTypes(e.cause)
  return [String(e)]
}

test('createTopics with 3 partitions: metadata lists 3 partitions led by the one broker', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'admin-create', 3)

  const cluster = await admin.describeCluster()
  assert.equal(cluster.brokers.length, 1, JSON.stringify(cluster.brokers))
  const id = cluster.brokers[0].nodeId

  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  assert.equal(topics.length, 1)
  assert.equal(topics[0].name, topic)
  const partitions = [...topics[0].partitions].sort((a, b) => a.partitionId - b.partitionId)
  assert.deepEqual(
    partitions.map(p => [p.partitionId, p.partitionErrorCode, p.leader, p.replicas, p.isr]),
    [0, 1, 2].map(p => [p, 0, id, [id], [id]]),
  )
  assert.ok((await admin.listTopics()).includes(topic), 'listTopics does not list the topic')
})

test('createTopics on an existing topic: TOPIC_ALREADY_EXISTS, which KafkaJS answers as false', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'admin-dup', 3)

  // KafkaJS resolves false exactly when every topic failed TOPIC_ALREADY_EXISTS.
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], timeout: OP_TIMEOUT })
  assert.equal(created, false)
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  assert.equal(topics[0].partitions.length, 3)
})

test('createTopics with replication factor 3 on one broker: INVALID_REPLICATION_FACTOR', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = uniqueTopic('admin-rf3')

  const { types, error } = await brokerError(
    admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], timeout: OP_TIMEOUT }),
  )
  assert.deepEqual(types, ['INVALID_REPLICATION_FACTOR'], error.stack)
  assert.ok(!(await admin.listTopics()).includes(topic), 'the topic exists after a failed create')
})

test('deleteTopics removes the topic from metadata', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'admin-delete', 3)

  await admin.deleteTopics({ topics: [topic], timeout: OP_TIMEOUT })
  await waitFor(`${topic} to leave metadata`, async () => !(await admin.listTopics()).includes(topic))

  // Asked for by name (the admin client never asks to auto-create): unknown.
  // A client without retries, so the answer comes at once.
  const once = await connectedAdmin(t, { retry: { retries: 0 } })
  const { types, error } = await brokerError(once.fetchTopicMetadata({ topics: [topic] }))
  assert.deepEqual(types, ['UNKNOWN_TOPIC_OR_PARTITION'], error.stack)
})

test('deleteTopics on an unknown topic: UNKNOWN_TOPIC_OR_PARTITION', opts, async t => {
  const admin = await connectedAdmin(t, { retry: { retries: 0 } })
  const { types, error } = await brokerError(
    admin.deleteTopics({ topics: [uniqueTopic('admin-delete-unknown')], timeout: OP_TIMEOUT }),
  )
  assert.deepEqual(types, ['UNKNOWN_TOPIC_OR_PARTITION'], error.stack)
})
