import pino, { type Bindings, type DestinationStream, type Logger } from 'pino';
import { redact, redactError } from './redact.ts';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level: LogLevel;
  /** Which part of Courier is logging ("manager", "webhook", ...). */
  component: string;
  /** Where JSON lines go; stdout when omitted. */
  destination?: DestinationStream;
}

/**
 * A pino logger writing one JSON object per line
 * (`{"level":"info","time":"…","component":"…","msg":"…"}`) with secrets
 * redacted from every record; see ./redact.ts for the rules.
 */
export function createLogger({ level, component, destination }: LoggerOptions): Logger {
  const logger = pino(
    {
      level,
      // pid and hostname are noise in a pod: the platform records both.
      base: { component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
      },
      // Errors are already serialized (and redacted) by the hook below; pino's
      // default `err` serializer would re-read them as plain objects and call
      // them all "Object".
      serializers: { err: (err: unknown) => err },
      hooks: {
        logMethod(args, method) {
          method.apply(this, redactLogArguments(args) as Parameters<typeof method>);
        },
      },
    },
    // Synchronous writes: an operator logs little, and a line written just
    // before a crash or a forced exit must not be lost in a buffer.
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
  // Child bindings bypass logMethod, and pino applies formatters.bindings to
  // the root logger only. Children are created with Object.create(parent), so
  // this override is inherited by every descendant.
  const createChild = logger.child;
  logger.child = function child(this: Logger, bindings, options) {
    return createChild.call(this, redact(bindings) as Bindings, options);
  } as Logger['child'];
  return logger;
}

/**
 * Redacts the arguments of one logging call before pino formats them. An Error
 * passed first is logged under `err`, with its message as the default `msg`,
 * as pino itself would.
 */
function redactLogArguments(args: readonly unknown[]): unknown[] {
  const [first, ...rest] = args;
  if (first instanceof Error) {
    const err = redactError(first);
    return rest.length === 0 ? [{ err }, err.message] : [{ err }, ...rest.map(redact)];
  }
  return args.map(redact);
}
