// Kubernetes Events (events.k8s.io/v1) about Courier's objects, for
// `kubectl describe` and `kubectl events`. Notes are written for people and
// must never hold a secret: callers pass reasons and names, not values.
import { randomBytes } from 'node:crypto';
import { EventsV1Api, V1MicroTime, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.ts';
import { redactString } from '../../log/redact.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(object: KubernetesObject, type: EventType, reason: string, action: string, note: string): Promise<void>;
}

export class KubernetesEventRecorder implements EventRecorder {
  private readonly api: EventsV1Api;
  private readonly controller: string;
  private readonly instance: string;
  private readonly logger: Logger;

  constructor(kubeConfig: KubeConfig, options: { controller: string; instance: string }, logger: Logger) {
    this.api = kubeConfig.makeApiClient(EventsV1Api);
    this.controller = options.controller;
    this.instance = options.instance;
    this.logger = logger;
  }

  /** Best effort: an Event that cannot be written is logged, never fatal. */
  async record(object: KubernetesObject, type: EventType, reason: string, action: string, note: string): Promise<void> {
    const { name = '', namespace = 'default', uid } = object.metadata ?? {};
    try {
      await this.api.createNamespacedEvent({
        namespace,
        body: {
          // Named like the kubelet's and client-go's Events: <object>.<random>.
          metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
          eventTime: new V1MicroTime(Date.now()),
          reportingController: this.controller,
          reportingInstance: this.instance,
          action,
          reason,
          // Notes are limited to 1 kB by the API.
          note: redactString(note).slice(0, 1024),
          type,
          regarding: {
            apiVersion: object.apiVersion ?? '',
            kind: object.kind ?? '',
            name,
            namespace,
            ...(uid ? { uid } : {}),
          },
        },
      });
    } catch (err) {
      this.logger.warn({ err, object: `${namespace}/${name}`, reason }, 'could not record an Event');
    }
  }
}
