// The child process of the sweep: runs the one job its parent sends over IPC,
// reports each finished cell (for the progress bar) and then the result.
import type { ChildMessage, Job, JobResult } from './jobs.js';
import { runLatencyJob } from './latency-job.js';
import { MemorySampler } from './memory-sampler.js';
import { runMemoryJob } from './memory-job.js';
import { runRejectJob } from './reject-job.js';
import { runStoreJob } from './store-job.js';

function post(message: ChildMessage): void {
  process.send!(message);
}

async function run(job: Job): Promise<JobResult> {
  const sampler = new MemorySampler();
  switch (job.kind) {
    case 'store':
      return runStoreJob(job, sampler, () => post({ type: 'cell' }));
    case 'reject':
      return runRejectJob(job);
    case 'latency':
      return runLatencyJob(job);
    case 'memory':
      return runMemoryJob(job, sampler);
  }
}

process.once('message', (job: Job) => {
  run(job).then(
    (result) => {
      post({ type: 'result', result });
      process.disconnect();
    },
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      post({ type: 'error', message: `${e.name}: ${e.message}`, stack: e.stack });
      process.disconnect();
    },
  );
});
