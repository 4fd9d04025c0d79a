// Provider logs go to stderr, which go-plugin reads line by line: a JSON line with hclog's keys
// (@level, @message, @timestamp) is re-logged at that level under terraform's TF_LOG settings.
// stdout belongs to the handshake and must never be written by the logger.

import { pino } from 'pino';

type LogFn = {
  (msg: string): void;
  (fields: object, msg?: string): void;
};
/** The part of pino handlers use; small, so that types carrying it stay cheap to compare. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const LEVELS: Record<string, pino.LevelWithSilent> = {
  TRACE: 'trace',
  JSON: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  OFF: 'silent',
};

/** TF_LOG_PROVIDER overrides TF_LOG; unset or unrecognised means warnings and errors only. */
export function logLevel(env: NodeJS.ProcessEnv): pino.LevelWithSilent {
  const raw = (env.TF_LOG_PROVIDER || env.TF_LOG || '').toUpperCase();
  return LEVELS[raw] ?? 'warn';
}

/** hclog's timestamp layout has microseconds; go-plugin drops lines whose timestamp it cannot parse. */
const hclogTime = (): string => `,"@timestamp":"${new Date().toISOString().replace('Z', '000Z')}"`;

export function createLogger(name: string, env: NodeJS.ProcessEnv = process.env): Logger {
  return pino(
    {
      name,
      level: logLevel(env),
      base: undefined,
      messageKey: '@message',
      timestamp: hclogTime,
      formatters: { level: (label) => ({ '@level': label === 'fatal' ? 'error' : label }) },
    },
    // Synchronous, so that lines written just before an exit are not lost.
    pino.destination({ fd: 2, sync: true }),
  );
}
