// Produce through KafkaJS: both codecs it ships (none, gzip) x acks -1/1/0,
// keys, values, headers, timestamps, explicit and key-chosen partitions; the
// idempotent producer.
//
// These tests check what the broker answered (partitions and base offsets in
// the produce responses) and what it then reports through ListOffsets
// (watermarks, offsets for timestamps); consume.test.mjs reads records back
// through a KafkaJS consumer group, field by field.

import { test } from 'node:test'
import assert from 'node:assert/strict'

import {
  BASE_TS,
  CompressionTypes,
  OP_TIMEOUT,
  TEST_TIMEOUT,
  connectedAdmin,
  connectedProducer,
  createTopic,
  defaultPartition,
  waitFor,
  watermarks,
} from './support.mjs'

const opts = { timeout: TEST_TIMEOUT }

const PARTITIONS = 3
const EXPLICIT_PER_PARTITION = 8
const KEYS = Array.from({ length: 6 }, (_, k) => `key-${k}`)
const PER_KEY = 4

function headersFor(i) {
  if (i % 5 === 0) return undefined // no headers at all
  // A repeated key (an array keeps its order) and an empty value.
  return { idx: String(i), dup: ['first', 'second'], emptyval: '' }
}

/** Produce responses as [partition, errorCode, baseOffset] sorted by partition. */
function summary(metadata) {
  return metadata
    .map(m => [m.partition, m.errorCode, Number(m.baseOffset)])
    .sort((a, b) => a[0] - b[0])
}

const CODECS = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
]
const ACKS = [-1, 1, 0]

for (const [codecName, compression] of CODECS) {
  for (const acks of ACKS) {
    test(`produce codec=${codecName} acks=${acks}: responses and watermarks account for every record`, opts, async t => {
      const admin = await connectedAdmin(t)
      const topic = await createTopic(t, admin, `pc-${codecName}-acks${acks}`, PARTITIONS)
      const producer = await connectedProducer(t, { idempotent: false })
      const counts = Array(PARTITIONS).fill(0)

      // One send with explicit partitions, interleaved.
      const explicit = []
      let i = 0
      for (let n = 0; n < EXPLICIT_PER_PARTITION; n++) {
        for (let p = 0; p < PARTITIONS; p++, i++) {
          explicit.push({
            partition: p,
            key: `k${i}`,
            value: `value-${i}-${'x'.repeat(i * 7)}`,
            headers: headersFor(i),
            timestamp: String(BASE_TS + i),
          })
        }
      }
      const first = await producer.send({ topic, messages: explicit, acks, compression, timeout: OP_TIMEOUT })
      if (acks !== 0) {
        assert.deepEqual(summary(first), [0, 1, 2].map(p => [p, 0, 0]))
        for (const m of first) assert.equal(m.topicName, topic)
      }
      for (let p = 0; p < PARTITIONS; p++) counts[p] += EXPLICIT_PER_PARTITION

      // One send per key: the default partitioner puts all of a key's records
      // on one partition, the one murmur2 picks.
      for (const key of KEYS) {
        const messages = []
        for (let n = 0; n < PER_KEY; n++, i++) {
          messages.push({ key, value: `value-${i}-${key}`, headers: headersFor(i), timestamp: String(BASE_TS + i) })
        }
        const p = defaultPartition(topic, key, PARTITIONS)
        const res = await producer.send({ topic, messages, acks, compression, timeout: OP_TIMEOUT })
        if (acks !== 0) {
          assert.deepEqual(summary(res), [[p, 0, counts[p]]], `records keyed ${key}`)
        }
        counts[p] += PER_KEY
      }

      // ListOffsets: every partition from 0 to the number of records sent to it.
      // With acks=0 nothing says when the broker has appended them: poll.
      const want = Object.fromEntries(counts.map((n, p) => [p, [0, n]]))
      if (acks === 0) {
        await waitFor(`watermarks ${JSON.stringify(want)}`, async () => {
          const got = await watermarks(admin, topic)
          return JSON.stringify(got) === JSON.stringify(want)
        })
      }
      assert.deepEqual(await watermarks(admin, topic), want)

      // Offsets for a timestamp: explicit record i (partition i % 3, offset
      // floor(i / 3)) has timestamp BASE_TS + i; the first at or after BASE_TS + 4
      // is i = 6 on partition 0 (offset 2), i = 4 on 1 (offset 1), i = 5 on 2 (offset 1).
      const byTs = await admin.fetchTopicOffsetsByTimestamp(topic, BASE_TS + 4)
      assert.deepEqual(
        byTs.map(o => [o.partition, Number(o.offset)]).sort((a, b) => a[0] - b[0]),
        [
          [0, 2],
          [1, 1],
          [2, 1],
        ],
      )
    })
  }
}

test('null and empty keys and values are accepted at consecutive offsets', opts, async t => {
  const admin = await connectedAdmin(t)
  const topic = await createTopic(t, admin, 'nulls', 1)
  const producer = await connectedProducer(t, { idempotent: false })
  const cases = [
    { key: null, value: 'value-with-null-key' },
    { key: '', value: 'value-with-empty-key' },
    { key: 'key-with-null-value', value: null },
    { key: 'key-with-empty-value', value: '' },
    { key: null, value: null },
    { key: '', value: '' },
  ]
  for (const [n, c] of cases.entries()) {
    const res = await producer.send({
      topic,
      messages: [{ ...c, partition: 0, timestamp: String(BASE_TS + n) }],
      acks: -1,
      timeout: OP_TIMEOUT,
    })
    assert.deepEqual(summary(res), [[0, 0, n]], JSON.stringify(c))
  }
  assert.deepEqual(await watermarks(admin, topic), { 0: [0, cases.length] })
})

for (const [codecName, compression] of CODECS) {
  test(`idempotent producer codec=${codecName}: many sends land once each, in order`, opts, async t => {
    const admin = await connectedAdmin(t)
    const topic = await createTopic(t, admin, `idem-${codecName}`, 2)
    // KafkaJS requires acks=-1 and one request in flight for idempotence.
    const producer = await connectedProducer(t, { idempotent: true, maxInFlightRequests: 1 })
    const counts = [0, 0]
    for (let s = 0; s < 20; s++) {
      const messages = Array.from({ length: 50 }, (_, n) => ({
        partition: (s + n) % 2,
        key: `k${s}-${n}`,
        value: `v${s}-${n}`,
        timestamp: String(BASE_TS + s * 50 + n),
      }))
      const res = await producer.send({ topic, messages, acks: -1, compression, timeout: OP_TIMEOUT })
      assert.deepEqual(summary(res), [
        [0, 0, counts[0]],
        [1, 0, counts[1]],
      ])
      counts[0] += 25
      counts[1] += 25
    }
    assert.deepEqual(await watermarks(admin, topic), { 0: [0, 500], 1: [0, 500] })
  })
}
