// An AWS STS that answers at once, for the broker benchmark: it speaks STS's
// wire protocol (awsQuery: a form-encoded POST, an XML answer) so the real
// AWS SDK client in the broker signs, sends and parses as it would against
// AWS. moto answers about 360 AssumeRole calls a second with a 39 ms median
// on this machine, far below what the broker is to sustain, so it would
// measure moto.
//
// It records how long it held each request (from its headers to the last
// byte of the answer), by the AccessKeyId it issued, so the benchmark can
// take STS's share out of the broker's time: GET /timings.
//
//   node bench/instant-sts.ts     prints {"endpoint":"http://127.0.0.1:<port>"}
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const ACCOUNT = '123456789012';
const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

let issued = 0;
/** Microseconds each issued AccessKeyId's request was held here. */
const timings: Record<string, number> = {};

function accessKeyId(): string {
  return `ASIA${(++issued).toString(36).toUpperCase().padStart(16, '0')}`;
}

function xml(action: string, result: string, requestId: number): string {
  return (
    `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>bench-${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

function credentials(id: string, durationSeconds: number): string {
  const expiration = new Date(Date.now() + durationSeconds * 1000).toISOString();
  // As long as AWS's session tokens, which carry the session's tags and policy.
  const sessionToken = `IQoJb3JpZ2luX2VjE${id}${'A'.repeat(600)}`;
  return (
    `<Credentials><AccessKeyId>${id}</AccessKeyId><SecretAccessKey>bench-secret-${id}</SecretAccessKey>` +
    `<SessionToken>${sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>`
  );
}

function answer(params: URLSearchParams): { status: number; body: string; id?: string } {
  const action = params.get('Action');
  const duration = Number(params.get('DurationSeconds') ?? 3600);
  switch (action) {
    case 'AssumeRole': {
      const id = accessKeyId();
      const role = (params.get('RoleArn') ?? '').split('/').pop();
      const session = params.get('RoleSessionName');
      const user =
        `<AssumedRoleUser><AssumedRoleId>AROABENCH:${session}</AssumedRoleId>` +
        `<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}</Arn></AssumedRoleUser>`;
      return { status: 200, body: xml(action, credentials(id, duration) + user, issued), id };
    }
    case 'GetSessionToken': {
      const id = accessKeyId();
      return { status: 200, body: xml(action, credentials(id, duration), issued), id };
    }
    case 'GetCallerIdentity':
      return {
        status: 200,
        body: xml(
          action,
          `<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/bench/bench</Arn><UserId>AROABENCH:bench</UserId><Account>${ACCOUNT}</Account>`,
          issued,
        ),
      };
    default:
      return {
        status: 400,
        body: `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${action} is not answered here</Message></Error></ErrorResponse>`,
      };
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const started = process.hrtime.bigint();
  if (req.method === 'GET' && req.url === '/timings') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(timings));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    // The SDK signs every call; an unsigned one means the client is not the SDK this is meant to exercise.
    const reply = req.headers.authorization?.startsWith('AWS4-HMAC-SHA256 ')
      ? answer(new URLSearchParams(Buffer.concat(chunks).toString()))
      : {
          status: 403,
          body: `<ErrorResponse xmlns="${XMLNS}"><Error><Code>MissingAuthenticationToken</Code></Error></ErrorResponse>`,
        };
    res.writeHead(reply.status, { 'content-type': 'text/xml' });
    res.end(reply.body, () => {
      if (reply.id) timings[reply.id] = Number(process.hrtime.bigint() - started) / 1000;
    });
  });
}

const server = createServer({ keepAliveTimeout: 120_000 }, handle);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ endpoint: `http://127.0.0.1:${port}` })}\n`);
});
// Started by a benchmark with a pipe as stdin: when the benchmark is gone, so is this.
process.stdin.on('end', () => process.exit(0)).resume();
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
