// What the webhook writes into every pod it mutates, and the schemas of the
// options that set it. Values are normalised here, once, to the form the
// apiserver stores: on reinvocation the webhook compares what it would add
// with what the pod already holds, so "1024Ki" must already read "1Mi".
import type { z } from 'zod';
import { parseDuration } from '../config/duration.ts';
import { parsedValue } from '../config/values.ts';

export const PULL_POLICIES = ['IfNotPresent', 'Always', 'Never'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

export interface WebhookSettings {
  agentImage: string;
  agentImagePullPolicy: PullPolicy;
  /** The broker's https URL, given to the agent. */
  brokerUrl: string;
  /** Lifetime of the projected token the agent presents to the broker. */
  tokenExpirationSeconds: number;
  /** sizeLimit of the in-memory credentials volume, a canonical Kubernetes quantity. */
  credentialsSizeLimit: string;
}

/** Kubernetes refuses projected service-account tokens that live shorter than this. */
export const MIN_TOKEN_EXPIRATION_SECONDS = 600;

/** An image reference such as "ghcr.io/courier/courier:0.1.0"; the kubelet parses the rest. */
export function imageReference(): z.ZodType<string> {
  return parsedValue('an image reference such as "ghcr.io/courier/courier:0.1.0"', (raw) =>
    /^[^\s]+$/.test(raw) ? raw : undefined,
  );
}

/** The agent refuses to send a token over plain HTTP, so the webhook never configures one. */
export function httpsUrl(): z.ZodType<string> {
  return parsedValue('an https URL such as "https://courier-broker.courier-system.svc"', (raw) =>
    URL.canParse(raw) && new URL(raw).protocol === 'https:' ? raw : undefined,
  );
}

/** A duration of at least 10m in whole seconds, as a number of seconds. */
export function tokenExpiration(): z.ZodType<number> {
  return parsedValue('a duration of at least 10m in whole seconds, such as "10m" or "1h"', (raw) => {
    const ms = parseDuration(raw);
    if (ms === undefined || ms % 1000 !== 0 || ms / 1000 < MIN_TOKEN_EXPIRATION_SECONDS) return undefined;
    return ms / 1000;
  });
}

const BINARY_SUFFIXES = ['Ki', 'Mi', 'Gi', 'Ti', 'Pi'] as const;

/**
 * A size such as "1Mi", written as the apiserver writes it back: the largest
 * binary suffix that divides it ("1024Ki" becomes "1Mi"). Only binary
 * suffixes are taken, since memory is counted in them and their canonical
 * form is this simple rule.
 */
export function binaryQuantity(): z.ZodType<string> {
  return parsedValue('a size in Ki, Mi or Gi such as "1Mi" or "512Ki"', (raw) => {
    const match = /^([1-9][0-9]{0,6})(Ki|Mi|Gi)$/.exec(raw);
    if (!match) return undefined;
    let amount = Number(match[1]);
    let suffix = BINARY_SUFFIXES.indexOf(match[2] as (typeof BINARY_SUFFIXES)[number]);
    while (suffix < BINARY_SUFFIXES.length - 1 && amount % 1024 === 0) {
      amount /= 1024;
      suffix++;
    }
    return `${amount}${BINARY_SUFFIXES[suffix]}`;
  });
}
