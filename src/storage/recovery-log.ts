import type { Logger } from '../logger.js';
import type { Log } from './log.js';

/**
 * Tells the operator what opening a partition log had to repair: a warning
 * when a torn or corrupt batch was cut or segments after a cut were deleted,
 * info for zeroed space cut, rebuilt indexes and leftovers removed. Said once,
 * by the open that read the directory.
 */
export function logRecovery(logger: Logger, name: string, log: Log): void {
  if (!log.openedDirectory) return;
  const report = log.recoveryReport;
  if (report.notes.length === 0) return;
  const extra = {
    partition: name,
    bytesTruncated: report.bytesTruncated,
    tornBytesTruncated: report.tornBytesTruncated,
    segmentsDeleted: report.segmentsDeleted,
    notes: report.notes,
  };
  const lost = report.tornBytesTruncated > 0 || (report.bytesTruncated > 0 && report.segmentsDeleted > 0);
  if (lost) {
    logger.warn(
      `${name}: recovery cut ${report.bytesTruncated} bytes (${report.tornBytesTruncated} of a torn or corrupt batch) and deleted ${report.segmentsDeleted} segment(s): ${report.notes.join('; ')}`,
      extra,
    );
  } else {
    logger.info(`${name}: recovery: ${report.notes.join('; ')}`, extra);
  }
}
