// Produce through KafkaJS and consume it back through a KafkaJS consumer
// group: every record returns with its key, value, headers and timestamp,
// in order per partition, for both codecs KafkaJS ships.

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
  kafka,
  uniqueTopic,
  waitFor,
} from './support.mjs'

const PARTITIONS = 3
const PER_PARTITION = 10

for (const [codecName, compression] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]]) {
  test(`consume codec=${codecName}: a group consumer reads every record back with all its fields`, { timeout: TEST_TIMEOUT }, async t => {
    const admin = await connectedAdmin(t)
    const topic = await createTopic(t, admin, `cons-${codecName}`, PARTITIONS)
    const producer = await connectedProducer(t, { idempotent: true })
    const sent = []
    for (let p = 0; p < PARTITIONS; p++) {
      const messages = []
      for (let i = 0; i < PER_PARTITION; i++) {
        const m = {
          partition: p,
          key: `k-${p}-${i}`,
          value: `v-${p}-${i}-${codecName}`,
          headers: { idx: String(i), part: String(p) },
          timestamp: String(BASE_TS + p * 1000 + i),
        }
        messages.push(m)
        sent.push(m)
      }
      await producer.send({ topic, compression, acks: -1, messages })
    }

    const consumer = kafka.consumer({ groupId: uniqueTopic('node-group'), sessionTimeout: 10_000, heartbeatInterval: 1000 })
    await consumer.connect()
    t.after(() => consumer.disconnect())
    await consumer.subscribe({ topic, fromBeginning: true })
    const got = []
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: Number(message.offset), message })
      },
    })
    await waitFor('every record consumed', () => got.length >= sent.length, OP_TIMEOUT * 3)
    assert.equal(got.length, sent.length, 'no record twice')
    for (let p = 0; p < PARTITIONS; p++) {
      const mine = got.filter(g => g.partition === p)
      assert.deepEqual(mine.map(g => g.offset), Array.from({ length: PER_PARTITION }, (_, i) => i), `offsets of partition ${p}`)
      mine.forEach((g, i) => {
        const s = sent.find(m => m.partition === p && m.key === `k-${p}-${i}`)
        assert.equal(g.message.key.toString(), s.key)
        assert.equal(g.message.value.toString(), s.value)
        assert.equal(g.message.timestamp, s.timestamp)
        assert.equal(g.message.headers.idx.toString(), s.headers.idx)
        assert.equal(g.message.headers.part.toString(), s.headers.part)
      })
    }
  })
}
