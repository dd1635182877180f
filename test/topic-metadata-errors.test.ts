// A failing disk under the topic metadata file (fjord-topics.msgpack) reaches
// the caller as KafkaStorageError, the way the store reports its own files'
// errors, and the topic change it was part of is undone.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { FJORD, runScript } from './child-process.js';
import { buildFaultShim } from './fault-shim.js';
import { tempDir } from './helpers.js';

const CHILD = `
import { Fjord, logLevel } from ${JSON.stringify(FJORD)};
const [dir] = process.argv.slice(2);
const fjord = await Fjord.open({ dir, logLevel: logLevel.NOTHING });
const admin = fjord.admin();
await admin.connect();
let error = null;
try {
  await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }] });
} catch (e) {
  error = { name: e.name, code: e.code, errnoName: e.errnoName, op: e.op, path: e.path, type: e.type };
}
const topics = await admin.listTopics();
await admin.disconnect();
await fjord.close();
process.stdout.write(JSON.stringify({ error, topics }));
`;

describe('the topic metadata file on a failing disk', () => {
  it('an fsync EIO writing fjord-topics.msgpack fails createTopics with KafkaStorageError, and the topic is not created', async () => {
    const scratch = tempDir();
    const dir = tempDir();
    const shim = buildFaultShim(scratch);
    shim.arm(`fsync ${dir}/fjord-topics.msgpack.tmp EIO 0 1\n`);
    const { code, stdout, stderr } = await runScript(scratch, CHILD, [dir], { prefix: shim.prefix });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({
      error: {
        name: 'KafkaStorageError',
        code: 'ERR_STORAGE',
        errnoName: 'EIO',
        op: 'syncing',
        path: `${dir}/fjord-topics.msgpack.tmp`,
        type: 'KAFKA_STORAGE_ERROR',
      },
      topics: [],
    });
    expect(shim.hits()).toEqual([`fsync EIO ${dir}/fjord-topics.msgpack.tmp`]);
    // Both partition directories it made were removed again.
    expect(readdirSync(dir).filter((name) => name.startsWith('t-'))).toEqual([]);
  });
});
