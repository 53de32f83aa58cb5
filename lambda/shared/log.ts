/** Structured JSON logs, one object a line, as CloudWatch Logs Insights reads them. Never pass secrets. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(hook: string, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Logger {
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    const extra = fields ? normalise(fields) : {};
    write(JSON.stringify({ level, hook, message, ...extra }));
  };
  return {
    debug: (m, f) => emit('DEBUG', m, f),
    info: (m, f) => emit('INFO', m, f),
    warn: (m, f) => emit('WARN', m, f),
    error: (m, f) => emit('ERROR', m, f),
  };
}

function normalise(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
  }
  return out;
}
