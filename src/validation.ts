/**
 * Readable messages for zod issues. zod/mini (13 KB instead of 450 KB in a bundle) ships no English messages,
 * so this says what was expected and where: `SPOTFARM_DRY_RUN: expected one of true, false (got "yes")`.
 */
import type { core } from 'zod/mini';

export function formatIssue(issue: core.$ZodIssue, root = '', input?: unknown): string {
  const path = [root, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  const where = path === '' ? '' : `${path}: `;
  const got = input === undefined ? '' : describeValue(valueAt(input, issue.path));
  switch (issue.code) {
    case 'invalid_type':
      return `${where}expected ${issue.expected}${got ? ` (got ${got})` : ''}`;
    case 'invalid_value':
      return `${where}expected one of ${issue.values.map(String).join(', ')}${got ? ` (got ${got})` : ''}`;
    case 'unrecognized_keys':
      return `${where}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `${path ? `${path}.` : ''}${k}`).join(', ')}`;
    case 'too_small':
      return `${where}must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}${got ? ` (got ${got})` : ''}`;
    case 'too_big':
      return `${where}must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}${got ? ` (got ${got})` : ''}`;
    case 'invalid_format':
      return `${where}expected ${issue.format}${got ? ` (got ${got})` : ''}`;
    default:
      return `${where}${issue.message === 'Invalid input' ? 'invalid value' : issue.message}${got ? ` (got ${got})` : ''}`;
  }
}

export function formatIssues(issues: readonly core.$ZodIssue[], root = '', input?: unknown): string {
  return issues.map((issue) => formatIssue(issue, root, input)).join('; ');
}

/** The value at `path` inside `input`, or undefined when the path does not exist. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describeValue(value: unknown): string {
  if (value === undefined) return '';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
