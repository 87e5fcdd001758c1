import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * What a load balancer in front of a cluster does, for tests: one fixed port; each connection
 * goes to the next backend in turn, and is closed when its backend goes. Backends are added and
 * removed as nodes restart (on new ports).
 */
export class TcpBalancer {
  private readonly server: Server;
  private readonly backends = new Map<string, number>();
  private readonly links = new Map<string, Set<Socket>>();
  private next = 0;
  port = 0;

  constructor(private readonly host = '127.0.0.1') {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
    return this.port;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  set(name: string, port: number): void {
    this.backends.set(name, port);
  }

  /** Stops sending new connections to `name`; its open ones go when the node closes them. */
  remove(name: string): void {
    this.backends.delete(name);
  }

  async close(): Promise<void> {
    for (const sockets of this.links.values()) for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const names = [...this.backends.keys()];
    if (names.length === 0) {
      client.destroy();
      return;
    }
    const name = names[this.next++ % names.length]!;
    const upstream = tcpConnect(this.backends.get(name)!, this.host);
    const sockets = this.links.get(name) ?? new Set<Socket>();
    this.links.set(name, sockets);
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
