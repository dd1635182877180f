// The topics of a Kafka broker's log directory that Fjord's metadata does not
// list yet: a partition directory `<topic>-<n>` that holds Kafka's
// `partition.metadata` (written by every Kafka broker since 2.8: a version line
// and the topic id, base64url without padding). Topic configs are not there
// (Kafka keeps them in its KRaft metadata log), so adopted topics start with
// Fjord's defaults. Read only: nothing here writes or removes a file.
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Kafka's own topics: never adopted as user topics (their formats belong to Kafka's coordinators). */
export const KAFKA_INTERNAL_TOPICS: ReadonlySet<string> = new Set([
  '__consumer_offsets',
  '__transaction_state',
  '__share_group_state',
  '__cluster_metadata',
  '__remote_log_metadata',
]);

export const KAFKA_PARTITION_METADATA = 'partition.metadata';

export interface KafkaTopic {
  name: string;
  /** Kafka's topic id as a UUID string (8-4-4-4-12 hex), the form Fjord's topic ids take. */
  id: string;
  partitions: number;
}

export interface KafkaDirectoryScan {
  /** Topics to adopt: partitions 0 to n-1 all present, one topic id among them. */
  topics: KafkaTopic[];
  /** Kafka's internal topics found (left as they are). */
  internal: string[];
  /** Kafka partition directories that cannot be adopted, and why (left as they are). */
  skipped: { dir: string; reason: string }[];
}

const PARTITION_DIR = /^(.+)-(\d+)$/;

/** Scans `dir` for Kafka topics whose names `known` does not hold. */
export async function scanKafkaTopics(dir: string, known: (name: string) => boolean): Promise<KafkaDirectoryScan> {
  const byTopic = new Map<string, Map<number, string | null>>();
  const skipped: KafkaDirectoryScan['skipped'] = [];
  const internal = new Set<string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const match = PARTITION_DIR.exec(entry.name);
    if (match === null) continue;
    const [, topic, partition] = match as unknown as [string, string, string];
    if (known(topic)) continue;
    let text: string;
    try {
      text = await readFile(join(dir, entry.name, KAFKA_PARTITION_METADATA), 'utf8');
    } catch {
      continue; // not a Kafka partition directory
    }
    if (KAFKA_INTERNAL_TOPICS.has(topic)) {
      internal.add(topic);
      continue;
    }
    let id: string | null;
    try {
      id = parsePartitionMetadata(text);
    } catch (error) {
      skipped.push({ dir: entry.name, reason: (error as Error).message });
      continue;
    }
    let partitions = byTopic.get(topic);
    if (partitions === undefined) byTopic.set(topic, (partitions = new Map()));
    partitions.set(Number(partition), id);
  }
  const topics: KafkaTopic[] = [];
  for (const [name, partitions] of byTopic) {
    const ids = new Set([...partitions.values()].filter((id) => id !== null));
    const count = partitions.size;
    const missing = Array.from({ length: count }, (_, p) => p).filter((p) => !partitions.has(p));
    if (missing.length > 0 || ids.size > 1) {
      const reason =
        missing.length > 0
          ? `partitions ${[...partitions.keys()].sort((a, b) => a - b).join(', ')} are not 0 to ${count - 1}`
          : `its partitions name ${ids.size} topic ids`;
      for (const p of partitions.keys()) skipped.push({ dir: `${name}-${p}`, reason: `topic ${name} is not adopted: ${reason}` });
      continue;
    }
    topics.push({ name, id: ids.values().next().value ?? randomUUID(), partitions: count });
  }
  topics.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { topics, internal: [...internal].sort(), skipped };
}

/**
 * The topic id of a `partition.metadata` text (`version: 0` then `topic_id: <base64url>`),
 * as a UUID string; null for Kafka's "no id" (all zeros). Throws on anything else.
 */
export function parsePartitionMetadata(text: string): string | null {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`partition.metadata line ${JSON.stringify(line)} is not "name: value"`);
    fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  if (fields.get('version') !== '0') throw new Error(`partition.metadata version ${JSON.stringify(fields.get('version'))} is not 0`);
  const encoded = fields.get('topic_id');
  if (encoded === undefined || !/^[A-Za-z0-9_-]{22}$/.test(encoded)) {
    throw new Error(`partition.metadata topic_id ${JSON.stringify(encoded)} is not a base64url UUID`);
  }
  const hex = Buffer.from(encoded, 'base64url').toString('hex');
  if (/^0+$/.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
