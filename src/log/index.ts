import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** LOG_LEVELS are the levels `--log-level` and `[log] level` accept. */
export const LOG_LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * createLogger builds fune's one root logger: JSON lines on stderr (fd 2) at the given level. Credentials never
 * appear in logs: the redaction list covers the CRI AuthConfig fields wherever a request object is logged.
 */
export function createLogger(level: LevelWithSilent, destination: number | NodeJS.WritableStream = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['*.auth.password', '*.auth.auth', '*.auth.identity_token', '*.auth.registry_token', 'auth', 'password'],
        censor: '[redacted]',
      },
      serializers: { err: pino.stdSerializers.err },
    },
    dest,
  );
}

/** nullLogger is a logger that writes nothing, for unit tests. */
export function nullLogger(): Logger {
  return pino({ level: 'silent' });
}
