// Types of kafka.mjs, for the tests that import it.
export function kafkaClasspath(): string;
export interface ToolOptions {
  input?: string;
  extraClasspath?: string;
  heap?: string;
}
export function runToolOutput(mainClass: string, args: string[], options?: ToolOptions): Promise<{ stdout: string; stderr: string }>;
export function runTool(mainClass: string, args: string[], options?: ToolOptions): Promise<string>;
export function compileJava(source: string): string;
export function dumpLogSegments(files: string[], options?: string[]): Promise<string>;
export function dumpLogSegmentsOutput(files: string[], options: string[]): Promise<{ stdout: string; stderr: string }>;
export interface Broker {
  bootstrap: string;
  clusterId: string;
  output(): string;
  stop(): Promise<void>;
}
export function startBroker(
  logDir: string,
  options?: { port?: number; controllerPort?: number; clusterId?: string; properties?: string[] },
): Promise<Broker>;
export function describeGroup(
  bootstrap: string,
  group: string,
): Promise<{ topic: string; partition: number; currentOffset: number | null; logEndOffset: number }[]>;
