// A refusal the broker answers with: an HTTP status, a stable reason word an
// agent or a person can act on, and a message. Never holds a secret.
import type { BrokerError } from '../api/v1alpha1/delivery.ts';

export class BrokerDenial extends Error {
  readonly code: number;
  readonly reason: string;
  /** Seconds, for 429 and 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: number, reason: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'BrokerDenial';
    this.code = code;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  toBody(): BrokerError {
    return { code: this.code, reason: this.reason, message: this.message };
  }
}
