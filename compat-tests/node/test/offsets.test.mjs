// ListOffsets through the KafkaJS admin client: watermarks and
// fetchTopicOffsetsByTimestamp.

import { test } from 'node:test'
import assert from 'node:assert/strict'

import { BASE_TS, OP_TIMEOUT, TEST_TIMEOUT, connectedAdmin, connectedProducer, createTopic, watermarks } from './support.mjs'

const opts = { timeout: TEST_TIMEOUT }

/** Produce one record per timestamp to partition 0, in one send or one send each. */
async function produce(t, topic, timestamps, oneSendEach) {
  const producer = await connectedProducer(t, { idempotent: false })
  const messages = timestamps.map((ts, i) => ({ key: 'k', value: `v${i}`, partition: 0, timestamp: String(ts) }))
  const sends = oneSendEach ? messages.map(m => [m]) : [messages]
  let next = 0
  for (const batch of sends) {
    const [res] = await producer.send({ topic, messages: batch, acks: -1, timeout: OP_TIMEOUT })
    assert.equal(Number(res.baseOffset), next)
    next += batch.length
  }
}

async function offsetForTime(admin, topic, ts) {
  const byTs = await admin.fetchTopicOffsetsByTimestamp(topic, ts)
  const p0 = byTs.find(o => o.partition === 0)
  return Number(p0.offset)
}

test('watermarks of empty partitions are 0 and 0', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'wm-empty', 2)
  assert.deepEqual(await watermarks(admin, topic), { 0: [0, 0], 1: [0, 0] })
  // No record at or after any time: KafkaJS answers the high watermark, 0.
  const byTs = await admin.fetchTopicOffsetsByTimestamp(topic, BASE_TS)
  assert.deepEqual(byTs.map(o => [o.partition, Number(o.offset)]).sort(), [
    [0, 0],
    [1, 0],
  ])
})

test('watermarks after produce are 0 and the record count', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'wm', 2)
  await produce(t, topic, Array.from({ length: 10 }, (_, i) => BASE_TS + i), false)
  assert.deepEqual(await watermarks(admin, topic), { 0: [0, 10], 1: [0, 0] })
})

for (const oneSendEach of [false, true]) {
  test(`offsets for times, ${oneSendEach ? 'across batches' : 'within one batch'}`, opts, async t => {
    const admin = await connectedAdmin(t)
    const topic = await createTopic(t, admin, 'oft', 1)
    // Ten records, one second apart.
    await produce(t, topic, Array.from({ length: 10 }, (_, i) => BASE_TS + 1000 * i), oneSendEach)
    assert.equal(await offsetForTime(admin, topic, BASE_TS + 4000), 4) // exact match
    assert.equal(await offsetForTime(admin, topic, BASE_TS + 4500), 5) // first ts >= T
    assert.equal(await offsetForTime(admin, topic, BASE_TS + 1), 1)
    assert.equal(await offsetForTime(admin, topic, BASE_TS), 0)
    assert.equal(await offsetForTime(admin, topic, 0), 0) // before everything
    assert.equal(await offsetForTime(admin, topic, BASE_TS + 9000), 9) // the last one
    // Past the last timestamp the broker answers -1, which KafkaJS replaces
    // with the high watermark.
    assert.equal(await offsetForTime(admin, topic, BASE_TS + 9001), 10)
  })
}

test('offsets for times with out-of-order timestamps: the first offset at or after', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'oft-unordered', 1)
  // offset:           0     1     2     3     4
  const timestamps = [1000, 3000, 2000, 5000, 4000]
  await produce(t, topic, timestamps.map(d => BASE_TS + d), true)
  // The earliest offset whose timestamp is >= T, not the smallest timestamp >= T.
  assert.equal(await offsetForTime(admin, topic, BASE_TS + 2000), 1)
  assert.equal(await offsetForTime(admin, topic, BASE_TS + 2500), 1)
  assert.equal(await offsetForTime(admin, topic, BASE_TS + 3500), 3)
  assert.equal(await offsetForTime(admin, topic, BASE_TS + 4500), 3)
  assert.equal(await offsetForTime(admin, topic, BASE_TS + 5001), 5)
})
