// No Rust panic reaches Node: a panic inside the store (forced by the
// test-only FJORD_TEST_PANIC, which makes appends to a log whose directory
// path contains its text panic while holding the log's lock) comes back as a
// KafkaStorageError, takes only that partition offline, and the process and
// the other partition go on; a reopen reads the partition again.
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { FJORD, runScript } from './child-process.js';
import { tempDir } from './helpers.js';

const CHILD = `
import { Fjord } from ${JSON.stringify(FJORD)};
const [dir] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
process.on('unhandledRejection', (e) => { out({ unhandled: String(e?.stack ?? e) }); process.exit(3); });
const describe = (e) => ({ name: e.name, code: e.code, op: e.op, path: e.path, errnoName: e.errnoName, retriable: e.retriable, message: e.message });
const settle = async (promise) => { try { return { ok: await promise }; } catch (e) { return describe(e); } };
const attempt = (fn) => { try { return { ok: fn() }; } catch (e) { return describe(e); } };
const send = (producer, partition, value) =>
  settle(producer.send({ topic: 't', acks: -1, messages: [{ partition, value }] }).then(([m]) => Number(m.baseOffset)));

let fjord = await Fjord.open({ dir });
const admin = fjord.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }] });
await admin.disconnect();
const producer = fjord.producer();
await producer.connect();
const results = [await send(producer, 1, 'a'), await send(producer, 0, 'b'), await send(producer, 1, 'c'), await send(producer, 0, 'd')];
const log0 = (await fjord.topics()).get('t').partition(0).log;
const after = { read: attempt(() => log0.read(0).length), flush: await settle(log0.flush()) };
await producer.disconnect();
const closed = await settle(fjord.close().then(() => 'closed'));
fjord = await Fjord.open({ dir });
const reopened = (await fjord.topics()).get('t').partitions.map((p) => [p.log.logEndOffset, p.log.read(0).length > 0]);
await fjord.close();
out({ results, after, closed, reopened });
`;

describe('a panic inside the store', () => {
  it('comes back as a KafkaStorageError, takes only its partition offline, and the process goes on', async () => {
    const scratch = realpathSync(tempDir('fjord-panic-'));
    const dir = join(scratch, 'data');
    const partitionDir = join(dir, 't-0');
    const { code, stdout, stderr } = await runScript(scratch, CHILD, [dir], { prefix: ['env', `FJORD_TEST_PANIC=${partitionDir}`] });
    // Exit code 0: neither a signal (an abort) nor an error ended the child.
    expect(code, stderr).toBe(0);
    const offline = {
      name: 'KafkaStorageError',
      code: 'ERR_LOG_OFFLINE',
      op: 'panic',
      path: partitionDir,
      retriable: false,
      message: `partition log ${partitionDir} is offline after a panic in append: forced by FJORD_TEST_PANIC=${partitionDir} appending to ${partitionDir}; close and reopen it to recover from its files`,
    };
    expect(JSON.parse(stdout)).toEqual({
      results: [{ ok: 0 }, offline, { ok: 1 }, offline],
      after: { read: offline, flush: offline },
      closed: { ok: 'closed' },
      // Reopened: partition 0 is empty and readable (at its end), partition 1 kept both records.
      reopened: [
        [0, false],
        [2, true],
      ],
    });
    // The panic was Rust's own (its message on stderr), not a JavaScript throw.
    expect(stderr).toContain(`panicked at native/store/src/offline.rs`);
  }, 60_000);

  it('in the binding itself (an index past a scratch array) is caught there too, taking the log offline', async () => {
    const scratch = realpathSync(tempDir('fjord-panic-'));
    const dir = join(scratch, 'log');
    // The addon called directly, with a scratch array too short for the four results `append` writes.
    const script = `
import { encodeBatch } from ${JSON.stringify(FJORD)};
import { native } from ${JSON.stringify(pathToFileURL(resolve('src/storage/native.ts')).href)};
const [dir] = process.argv.slice(2);
const handle = native.NativeLog.openSync(dir, {}, 0);
const batch = encodeBatch([{ value: Buffer.from('v'), timestamp: 0 }]);
const attempt = (fn) => { try { return { ok: fn() }; } catch (e) { return { code: e.code, op: e.op, message: e.message }; } };
const results = [attempt(() => handle.append(batch, 0, new Float64Array(1))), attempt(() => handle.logEndOffset())];
handle.closeSync();
const again = native.NativeLog.openSync(dir, {}, 0);
results.push(attempt(() => again.logEndOffset()));
again.closeSync();
process.stdout.write(JSON.stringify(results));
`;
    const { code, stdout, stderr } = await runScript(scratch, script, [dir]);
    expect(code, stderr).toBe(0);
    const offline = {
      code: 'ERR_LOG_OFFLINE',
      op: 'panic',
      message: `partition log ${dir} is offline after a panic in append: index out of bounds: the len is 1 but the index is 1; close and reopen it to recover from its files`,
    };
    // The append reached the file before the binding panicked: the reopened log holds it.
    expect(JSON.parse(stdout)).toEqual([offline, offline, { ok: 1 }]);
  }, 60_000);
});
