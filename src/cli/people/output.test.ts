import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { formatAge, formatList, renderTable } from './output.ts';

describe('renderTable', () => {
  it('pads columns to their widest cell, three spaces apart, without trailing spaces', () => {
    expect(
      renderTable(
        ['NAME', 'READY', 'AGE'],
        [
          ['prod-account', 'True', '5m'],
          ['db', 'False', ''],
        ],
      ),
    ).toBe('NAME           READY   AGE\nprod-account   True    5m\ndb             False\n');
  });
});

describe('formatAge', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);
  it.each([
    [45_000, '45s'],
    [119_000, '119s'],
    [5 * 60_000 + 10_000, '5m10s'],
    [5 * 60_000, '5m'],
    [90 * 60_000, '90m'],
    [5 * 3_600_000 + 30 * 60_000, '5h30m'],
    [30 * 3_600_000, '30h'],
    [3 * 86_400_000 + 5 * 3_600_000, '3d5h'],
    [40 * 86_400_000, '40d'],
  ])('writes %i ms ago as %s', (ms, text) => {
    expect(formatAge(ago(ms), now)).toBe(text);
  });

  it('writes the future as "in …" and nothing as <none>', () => {
    expect(formatAge(new Date(now.getTime() + 3 * 3_600_000), now)).toBe('in 3h');
    expect(formatAge(undefined, now)).toBe('<none>');
  });
});

describe('formatList', () => {
  it('prints objects as one v1 List, as kubectl does', () => {
    const items = [{ kind: 'ToolConnection', metadata: { name: 'a' } }];
    const list = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
    expect(JSON.parse(formatList(items, 'json'))).toEqual(list);
    expect(parse(formatList(items, 'yaml'))).toEqual(list);
  });
});
