// One member of a consumer group (KafkaJS 2.2.4, classic protocol), run as
// its own OS process by groups_test.py; the Node twin of worker.py, with the
// same JSON-lines log (see there): P before the synchronous commit of
// offset+1, C only after it succeeded, a failed commit rewinds the partition
// (consumer.seek).
//
// KafkaJS comes from compat-tests/node (npm ci there; run.sh does it).
// KafkaJS's assignment is eager: a rebalance revokes everything
// (REBALANCING) and GROUP_JOIN hands out the new set.
//
// Usage: node worker.mjs BOOTSTRAP GROUP TOPIC ID LOG SESSION_TIMEOUT_MS
//            HEARTBEAT_MS ASSIGNOR MAX_SECONDS [classic]
// ASSIGNOR: roundrobin (KafkaJS ships no other); the classic protocol only.
// SIGTERM: finish the current record, disconnect() (LeaveGroup), exit 0.
// Stops by itself after MAX_SECONDS or when its parent process is gone.
import fs from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(new URL('../../node/package.json', import.meta.url))
const { Kafka, logLevel, PartitionAssigners } = require('kafkajs')

const [bootstrap, group, topic, id, logPath, sessionMs, heartbeatMs, assignor, maxSeconds, protocol] =
  process.argv.slice(2)
if (maxSeconds === undefined || (protocol !== undefined && protocol !== 'classic')) {
  console.error('usage: node worker.mjs BOOTSTRAP GROUP TOPIC ID LOG SESSION_TIMEOUT_MS HEARTBEAT_MS ASSIGNOR MAX_SECONDS [classic]')
  process.exit(2)
}
if (assignor !== 'roundrobin') {
  console.error(`unknown assignor ${assignor}: KafkaJS has roundrobin only`)
  process.exit(2)
}

const fd = fs.openSync(logPath, 'a')
// One write(2) per line, so a SIGKILL never leaves half a line.
function emit(ev) {
  ev.t = Math.round(Date.now()) / 1000
  fs.writeSync(fd, JSON.stringify(ev) + '\n')
}

const kafka = new Kafka({
  clientId: id,
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  logCreator: () => ({ namespace, level, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(`[${new Date().toISOString()}] ${label} ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
  },
})
const consumer = kafka.consumer({
  groupId: group,
  sessionTimeout: Number(sessionMs),
  heartbeatInterval: Number(heartbeatMs),
  partitionAssigners: [PartitionAssigners.roundRobin],
  maxWaitTimeInMs: 500,
})

let owned = new Set()
const assign = why => {
  const ev = { ev: 'assign', parts: [...owned].sort((a, b) => a - b) }
  if (why) ev.why = why
  emit(ev)
}
consumer.on(consumer.events.REBALANCING, () => {
  owned = new Set()
  assign('revoke')
})
consumer.on(consumer.events.GROUP_JOIN, e => {
  owned = new Set(e.payload.memberAssignment[topic] || [])
  assign()
})
consumer.on(consumer.events.CRASH, e => {
  emit({ ev: 'error', err: `crash: ${e.payload.error}` })
})

let stopping = false
let busy = Promise.resolve() // the record being handled

async function handle({ partition: p, message }) {
  if (stopping) return
  const o = Number(message.offset)
  const v = message.value === null ? null : message.value.toString()
  if (!owned.has(p)) {
    // A record fetched before a rebalance took the partition away: not ours
    // to commit; whoever owns the partition now reads it from the committed
    // offset. Rewind in case it comes back to us.
    emit({ ev: 'skip_unowned', p, o })
    consumer.seek({ topic, partition: p, offset: String(o) })
    return
  }
  emit({ ev: 'P', p, o, v })
  try {
    await consumer.commitOffsets([{ topic, partition: p, offset: String(o + 1) }])
    emit({ ev: 'C', p, o, v })
  } catch (e) {
    emit({ ev: 'commit_failed', p, o, err: String(e) })
    await new Promise(r => setTimeout(r, 50)) // the next fetch moves the rebalance on; don't spin
    try {
      consumer.seek({ topic, partition: p, offset: String(o) })
    } catch (e2) {
      emit({ ev: 'seek_failed', p, o, err: String(e2) })
    }
  }
}

async function stop(why) {
  if (stopping) return
  stopping = true
  if (why) emit({ ev: 'error', err: why })
  await busy
  try {
    await consumer.disconnect()
  } catch (e) {
    emit({ ev: 'error', err: `disconnect: ${e}` })
  }
  emit({ ev: 'closed' })
  fs.closeSync(fd)
  process.exit(0)
}

process.on('SIGTERM', () => stop())
process.on('SIGINT', () => stop())
const parent = process.ppid
const deadline = Date.now() + Number(maxSeconds) * 1000
setInterval(() => {
  if (Date.now() > deadline || process.ppid !== parent) stop('stopping by itself (max-seconds or parent gone)')
}, 500)

await consumer.connect()
await consumer.subscribe({ topics: [topic], fromBeginning: true })
emit({ ev: 'start', pid: process.pid })
await consumer.run({
  autoCommit: false,
  eachMessage: payload => {
    busy = handle(payload)
    return busy
  },
})
