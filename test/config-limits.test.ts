// The one table of setting limits (native/store/src/config.rs): the addon
// hands it out as is, and both TypeScript checkers (topic configs and Log
// options) accept exactly its bounds and default to its defaults.
import { describe, expect, it } from 'vitest';

import { InvalidConfigError, Log } from '../src/index.js';
import { native } from '../src/storage/native.js';
import { configDefault, logOptionsFor, validateTopicConfigs } from '../src/topics/topic-config.js';
import { captureError, tempDir } from './helpers.js';

const INT_MAX = 2147483647;

describe('config limits', () => {
  it('the addon hands out the store table: bounds, defaults, no maximum as MAX_SAFE_INTEGER', () => {
    expect(native.configLimits()).toEqual([
      { name: 'segment.bytes', min: 61, max: INT_MAX, default: 1073741824 },
      { name: 'segment.ms', min: 1, max: Number.MAX_SAFE_INTEGER, default: 604800000 },
      { name: 'segment.index.bytes', min: 24, max: INT_MAX, default: 10485760 },
      { name: 'index.interval.bytes', min: 0, max: INT_MAX, default: 4096 },
      { name: 'max.message.bytes', min: 0, max: INT_MAX, default: 1048588 },
    ]);
  });

  const options: Record<string, string> = {
    'segment.bytes': 'segmentBytes',
    'segment.ms': 'segmentMs',
    'segment.index.bytes': 'segmentIndexBytes',
    'index.interval.bytes': 'indexIntervalBytes',
    'max.message.bytes': 'maxMessageBytes',
  };

  for (const { name, min, max, default: value } of native.configLimits()) {
    it(`topic config ${name}: the table's default, bounds inclusive`, () => {
      expect(configDefault(name)).toBe(String(value));
      expect(logOptionsFor({})[options[name] as keyof ReturnType<typeof logOptionsFor>]).toBe(value);
      expect(validateTopicConfigs([{ name, value: String(min) }])).toEqual({ [name]: String(min) });
      expect(validateTopicConfigs([{ name, value: String(max) }])).toEqual({ [name]: String(max) });
      for (const outside of [min - 1, max + 1]) {
        const error = captureError(() => validateTopicConfigs([{ name, value: String(outside) }]));
        expect(error).toBeInstanceOf(InvalidConfigError);
        expect((error as Error).message).toBe(`topic config ${name} must be in [${min}, ${max}], got ${outside}`);
      }
    });

    it(`Log option ${options[name]}: the table's bounds`, async () => {
      const key = options[name]!;
      for (const outside of [min - 1, max + 1]) {
        const error = await Log.open(tempDir(), { [key]: outside }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidConfigError);
        expect((error as Error).message).toBe(`${key} must be an integer in [${min}, ${max}], got ${outside}`);
      }
    });
  }
});
