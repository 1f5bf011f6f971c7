// Helpers shared by the KafkaJS compat tests: the client, unique names,
// bounded waits, topic creation that waits until the topic serves.
//
// The broker under test is named by KAFKA_BOOTSTRAP (host:port[,host:port]).
// The same tests run against Apache Kafka 4.4.0 (proving each expectation is
// Kafka's own behaviour) and against Strata.

import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'

import kafkajs from 'kafkajs'

export const { Kafka, logLevel, Partitioners, CompressionTypes } = kafkajs

if (!process.env.KAFKA_BOOTSTRAP) {
  throw new Error(
    'KAFKA_BOOTSTRAP is not set: point it at the broker under test, ' +
      'e.g. KAFKA_BOOTSTRAP=127.0.0.1:19092 (compat-tests/node/run.sh reads it)',
  )
}

// Bounds for every wait, in milliseconds. Generous: they only end a broken run.
export const OP_TIMEOUT = 15_000
// Per-test bound handed to node:test.
export const TEST_TIMEOUT = 90_000

// A day back: well inside any broker's allowed timestamp window, and unlike
// "now" on every run.
export const BASE_TS = Date.now() - 86_400_000

const LOG_LEVELS = { debug: logLevel.DEBUG, info: logLevel.INFO, warn: logLevel.WARN, error: logLevel.ERROR }

// KAFKAJS_LOG=debug|info|warn|error shows what the client does; quiet otherwise.
export const kafka = new Kafka({
  clientId: 'strata-compat-kafkajs',
  brokers: process.env.KAFKA_BOOTSTRAP.split(','),
  logLevel: LOG_LEVELS[process.env.KAFKAJS_LOG] ?? logLevel.NOTHING,
  connectionTimeout: 5_000,
  requestTimeout: OP_TIMEOUT,
  retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
})

export function uniqueTopic(prefix) {
  return `compat-node-${prefix}-${randomBytes(6).toString('hex')}`
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Poll `fn` until it returns a truthy value; fail after `timeout` ms. */
export async function waitFor(what, fn, timeout = OP_TIMEOUT, interval = 100) {
  const deadline = Date.now() + timeout
  let last
  for (;;) {
    try {
      const value = await fn()
      if (value) return value
      last = value
    } catch (e) {
      last = e
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout}ms waiting for ${what} (last: ${last?.stack ?? JSON.stringify(last)})`)
    }
    await sleep(interval)
  }
}

/** A connected admin client, disconnected when test `t` ends. */
export async function connectedAdmin(t, options) {
  const admin = kafka.admin(options)
  await admin.connect()
  t.after(() => admin.disconnect())
  return admin
}

/** A connected producer (default partitioner: murmur2 on the key), disconnected when test `t` ends. */
export async function connectedProducer(t, options = {}) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...options })
  await producer.connect()
  t.after(() => producer.disconnect())
  return producer
}

/**
 * Create `topic` with `partitions` partitions, wait until every partition
 * answers ListOffsets, and delete it when test `t` ends.
 *
 * Kafka lists a new topic's leader in Metadata a few milliseconds before
 * that broker has created the partition's log; a produce in that window
 * fails NOT_LEADER_OR_FOLLOWER, which with acks=0 loses the records silently.
 */
export async function createTopic(t, admin, prefix, partitions) {
  const topic = uniqueTopic(prefix)
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: OP_TIMEOUT,
  })
  assert.equal(created, true, `createTopics(${topic}) answered ${created}`)
  t.after(async () => {
    // Its own client: the test's may be disconnected by now.
    const cleaner = kafka.admin()
    try {
      await cleaner.connect()
      await cleaner.deleteTopics({ topics: [topic], timeout: OP_TIMEOUT })
    } catch {
      // cleanup only; a test may have deleted it
    } finally {
      await cleaner.disconnect()
    }
  })
  await waitFor(`every partition of ${topic} to answer ListOffsets`, async () => {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.length === partitions
  })
  return topic
}

/** Where KafkaJS's default partitioner puts `key` among n partitions. */
export function defaultPartition(topic, key, n) {
  const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0 }))
  return Partitioners.DefaultPartitioner()({ topic, partitionMetadata, message: { key } })
}

/** {partition: [low, high]} from fetchTopicOffsets, offsets as numbers. */
export async function watermarks(admin, topic) {
  const out = {}
  for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
    out[partition] = [Number(low), Number(high)]
  }
  return out
}
