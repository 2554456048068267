// The delivery contract shared by the webhook (which writes it into pods),
// the agent (which runs inside them) and the broker (which answers the agent).
// Changing a value here changes what running pods expect: treat it as API.

/** Audience of the projected token a pod presents to the broker. */
export const TOKEN_AUDIENCE = 'courier.dev/broker';

/** Names of what the webhook adds to a pod. All start with "courier-" and users may not declare them. */
export const AGENT_CONTAINER = 'courier-agent';
export const CREDENTIALS_VOLUME = 'courier-credentials';
export const TOKEN_VOLUME = 'courier-token';

/** Where the agent finds the token and the broker's CA, and writes credentials. */
export const TOKEN_DIR = '/var/run/secrets/courier.dev';
export const TOKEN_FILE = `${TOKEN_DIR}/token`;
export const CA_FILE = `${TOKEN_DIR}/ca.crt`;
/** Root of the credentials volume; connection NAME is written to `${CREDENTIALS_DIR}/NAME/`. */
export const CREDENTIALS_DIR = '/var/run/courier';

/** ConfigMap, in every namespace with a ToolConnection, holding the broker's CA bundle under `ca.crt`. */
export const BROKER_CA_CONFIGMAP = 'courier-broker-ca';
export const BROKER_CA_KEY = 'ca.crt';

/** Written by the agent once every connection's files are in place; the sidecar's startup probe checks it. */
export const READY_MARKER = '.courier-ready';

/** Files the agent writes into a connection's directory. */
export const AWS_CREDENTIALS_FILE = 'credentials';
export const AWS_CONFIG_FILE = 'config';
export const CREDENTIALS_JSON_FILE = 'credentials.json';

/** Env vars the webhook sets in app containers: paths only, never values. */
export const CREDENTIALS_DIR_ENV = 'COURIER_CREDENTIALS_DIR';

/** The broker's one endpoint. */
export const CREDENTIALS_PATH = '/v1/credentials';

/** What the agent sends: one request per connection. */
export interface CredentialRequest {
  /** A ToolConnection in the pod's namespace. */
  connection: string;
  /** Wanted lifetime of session credentials; the broker clamps it to the connection's limits. */
  durationSeconds?: number;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Absent only for a long-lived key handed out because the connection allows it. */
  sessionToken?: string;
  region: string;
}

export interface GenericCredentials {
  purpose: string;
  host?: string;
  port?: number;
  /** The stored fields (username, password, privateKey, …), one file each. */
  fields: Record<string, string>;
}

/** The broker's 200 answer. */
export interface CredentialResponse {
  connection: string;
  kind: 'aws/assumeRole' | 'aws/accessKey' | 'generic';
  /** RFC 3339; absent when the credentials do not expire (generic, long-lived key). */
  expiration?: string;
  aws?: AwsCredentials;
  generic?: GenericCredentials;
}

/** The broker's answer to anything else (4xx, 5xx); `reason` is a stable machine word. */
export interface BrokerError {
  code: number;
  reason: string;
  message: string;
}
