// KafkaJS side of capture.sh (run with NODE_PATH=compat-tests/kafkajs/node_modules).
//
// Usage: node kafkajs.js BOOTSTRAP TOPIC GROUP INFO_JSON
//
// One producer per codec KafkaJS ships (none, gzip), each sending one batch
// of three fixed records, then a consumer in GROUP that subscribes (so
// JoinGroup/SyncGroup), reads them all, commits and leaves. Writes the client
// name and version to INFO_JSON. Bounded: every wait has a timeout.
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'; // we pick partition 0 ourselves
const fs = require('fs');
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');
const kafkajsVersion = require('kafkajs/package.json').version;

const CODECS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };
const RECORDS_PER_BATCH = 3;

function records(codec) {
  const out = [];
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    out.push({
      key: Buffer.from(`key-${i}`),
      value: Buffer.from(`value-${i} codec=${codec} ${'strata golden vector '.repeat(4)}`),
      headers: { 'h-index': Buffer.from(String(i)), 'h-codec': Buffer.from(codec) },
      partition: 0,
    });
  }
  return out;
}

async function main() {
  const [bootstrap, topic, group, infoPath] = process.argv.slice(2, 6);
  fs.writeFileSync(infoPath, JSON.stringify({
    client: 'kafkajs', client_version: kafkajsVersion,
    library: `kafkajs ${kafkajsVersion} on node ${process.version}`,
    codecs: Object.keys(CODECS),
  }));
  const kafka = new Kafka({
    clientId: 'strata-vectors-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 20000,
    retry: { retries: 3 },
  });

  for (const [codec, type] of Object.entries(CODECS)) {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic, compression: type, acks: -1, messages: records(codec) });
    await producer.disconnect();
    console.log(`kafkajs: produced ${RECORDS_PER_BATCH} records with ${codec}`);
  }

  const want = RECORDS_PER_BATCH * Object.keys(CODECS).length;
  let got = 0;
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommit: true,
    eachMessage: async () => {
      got += 1;
      if (got >= want) done();
    },
  });
  await Promise.race([finished, new Promise((r) => setTimeout(r, 40000))]);
  await consumer.disconnect(); // commits, then LeaveGroup
  console.log(`kafkajs: consumed ${got} of ${want} records`);
  if (got < want) process.exitCode = 1;
}

const watchdog = setTimeout(() => { console.error('kafkajs: timed out'); process.exit(2); }, 120000);
watchdog.unref();
main().catch((e) => { console.error('kafkajs:', e); process.exit(1); });
