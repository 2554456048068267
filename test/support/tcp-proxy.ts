// A TCP proxy in front of a real server that can freeze the connections it
// carries without closing them: the way a watch goes silent when a NAT or
// load balancer drops a flow. New connections still pass.
import net from 'node:net';

export interface FreezableProxy {
  port: number;
  /** Stops moving bytes on every open connection; they stay open. */
  freezeOpenConnections(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(targetPort: number): Promise<FreezableProxy> {
  const open = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const frozen = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freezeOpenConnections() {
      for (const pair of open) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
        frozen.add(pair);
      }
      open.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of [...open, ...frozen]) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
