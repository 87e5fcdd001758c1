import { topicFilterError } from '@mqtt-adapt/topic';
import { MqError } from './errors.js';

/** Values for a template's placeholders, by name. */
export type TemplateVars = Readonly<Record<string, string>>;

export interface TemplateOptions {
  /**
   * What separates levels: `/` for MQTT topics (default), `.` for AMQP routing keys and NATS
   * subjects, `:` for Redis keys.
   */
  readonly separator?: string;
}

/** A compiled template such as `{node_id}/{device_id}/telemetry`. */
export interface TopicTemplate {
  readonly source: string;
  readonly separator: string;
  /** Placeholder names in order of appearance. */
  readonly names: readonly string[];
  /** What to subscribe to: each placeholder becomes `+` (`*` for other separators). */
  readonly filter: string;
  /** Fills every placeholder; throws `MQ_TEMPLATE_MISSING_VALUE` or `MQ_TEMPLATE_INVALID_VALUE`. */
  format(vars: TemplateVars): string;
  /** The placeholder values of a topic this template produced, or `null` when it does not fit. */
  parse(topic: string): Record<string, string> | null;
}

const placeholderPattern = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
// Characters that would turn a value into another level or a wildcard in the target system:
// MQTT (`+`, `#`), NATS (`*`, `>`, whitespace), and NUL everywhere.
const alwaysForbidden = ['+', '#', '\u0000'];
const dotForbidden = ['*', '>', ' ', '\t', '\r', '\n'];

type Level =
  | { readonly literal: string; readonly name: undefined }
  | { readonly literal: undefined; readonly name: string };

/** Compiles a template once; `format` and `parse` then do no regex work. */
export function compileTemplate(source: string, options: TemplateOptions = {}): TopicTemplate {
  const separator = options.separator ?? '/';
  if (separator.length !== 1)
    throw new RangeError(`separator must be one character, got ${JSON.stringify(separator)}`);
  const levels = source.split(separator).map((text) => parseLevel(source, text));
  const names = levels.flatMap((level) => (level.name === undefined ? [] : [level.name]));
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined) throw invalid(source, `placeholder {${duplicate}} appears twice`);
  const wildcard = separator === '/' ? '+' : '*';
  const filter = levels.map((level) => level.literal ?? wildcard).join(separator);
  if (separator === '/') {
    const error = topicFilterError(filter);
    if (error) throw invalid(source, error.message);
  }
  const forbidden =
    separator === '.' ? [separator, ...alwaysForbidden, ...dotForbidden] : [separator, ...alwaysForbidden];

  return {
    source,
    separator,
    names,
    filter,
    format(vars) {
      let out = '';
      for (let i = 0; i < levels.length; i++) {
        const level = levels[i]!;
        if (i > 0) out += separator;
        if (level.name === undefined) {
          out += level.literal;
          continue;
        }
        const value = vars[level.name];
        if (value === undefined) {
          throw new MqError(
            'MQ_TEMPLATE_MISSING_VALUE',
            `template ${source} needs a value for {${level.name}}`,
          );
        }
        checkValue(source, level.name, value, forbidden);
        out += value;
      }
      return out;
    },
    parse(topic) {
      const parts = topic.split(separator);
      if (parts.length !== levels.length) return null;
      const vars: Record<string, string> = {};
      for (let i = 0; i < levels.length; i++) {
        const level = levels[i]!;
        const part = parts[i]!;
        if (level.name === undefined) {
          if (part !== level.literal) return null;
        } else {
          if (part === '' || forbidden.some((c) => part.includes(c))) return null;
          vars[level.name] = part;
        }
      }
      return vars;
    },
  };
}

function parseLevel(source: string, text: string): Level {
  const match = placeholderPattern.exec(text);
  if (match) return { literal: undefined, name: match[1]! };
  if (text.includes('{') || text.includes('}')) {
    throw invalid(source, `level ${JSON.stringify(text)} must be a whole {placeholder} or plain text`);
  }
  if (text.includes('+') || text.includes('#')) {
    throw invalid(source, `level ${JSON.stringify(text)} holds a wildcard; use a {placeholder}`);
  }
  return { literal: text, name: undefined };
}

function checkValue(source: string, name: string, value: string, forbidden: readonly string[]): void {
  if (value === '') {
    throw new MqError('MQ_TEMPLATE_INVALID_VALUE', `template ${source}: {${name}} must not be empty`);
  }
  for (const c of forbidden) {
    const index = value.indexOf(c);
    if (index >= 0) {
      const shown = c === '\u0000' ? 'NUL' : JSON.stringify(c);
      throw new MqError(
        'MQ_TEMPLATE_INVALID_VALUE',
        `template ${source}: {${name}} value ${JSON.stringify(value)} holds ${shown} at index ${index}`,
      );
    }
  }
}

function invalid(source: string, why: string): MqError {
  return new MqError('MQ_TEMPLATE_INVALID', `template ${JSON.stringify(source)}: ${why}`);
}

/** The standard device topics: uplink (device to cloud) and downlink (cloud to device). */
export const standardTemplates = {
  telemetry: '{node_id}/{device_id}/telemetry',
  status: '{node_id}/{device_id}/status',
  event: '{node_id}/{device_id}/event',
  alert: '{node_id}/{device_id}/alert',
  command: '{node_id}/{device_id}/command',
  response: '{node_id}/{device_id}/response',
} as const;

export type StandardTemplateName = keyof typeof standardTemplates;
