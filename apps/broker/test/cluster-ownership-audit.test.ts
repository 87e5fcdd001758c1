import type { ClientInfo } from '@mqtt-adapt/router';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type ConnectedClients, OwnershipAudit } from '../src/cluster/ownership-audit.js';

type Owner = { ownerNode: string; epoch: number };

/** The router's connected clients, as the test connects and disconnects them. */
class FakeClients implements ConnectedClients {
  private readonly connected = new Map<string, ClientInfo>();

  connectedClientIds(): string[] {
    return [...this.connected.keys()];
  }

  connect(clientId: string): ClientInfo {
    const client: ClientInfo = {
      clientId,
      username: undefined,
      remoteAddress: '127.0.0.1:1',
      protocolVersion: 5,
    };
    this.connected.set(clientId, client);
    return client;
  }

  /** The router forgets a connection only when that very one closes (a reconnect replaced it). */
  disconnect(client: ClientInfo): void {
    if (this.connected.get(client.clientId) === client) this.connected.delete(client.clientId);
  }
}

function setup(options: { idsPerQuery?: number; idsPerRun?: number } = {}) {
  const owners = new Map<string, Owner>();
  const queries: string[][] = [];
  let failNext = false;
  const store = {
    experimental_sessionOwners: async (clientIds: readonly string[]): Promise<Map<string, Owner>> => {
      queries.push([...clientIds]);
      if (failNext) {
        failNext = false;
        throw new Error('connection refused');
      }
      const found = new Map<string, Owner>();
      for (const clientId of clientIds) {
        const owner = owners.get(clientId);
        if (owner !== undefined) found.set(clientId, owner);
      }
      return found;
    },
  };
  const drops: Array<{ clientId: string; ownerNode: string; epoch: number }> = [];
  /** Client ids this node claimed again since (dropStale refuses those). */
  const reclaimed = new Set<string>();
  const takeover = {
    dropStale: (clientId: string, ownerNode: string, epoch: number): boolean => {
      if (reclaimed.has(clientId)) return false;
      drops.push({ clientId, ownerNode, epoch });
      return true;
    },
  };
  const clients = new FakeClients();
  const audit = new OwnershipAudit(store, clients, takeover, 'node-a', pino({ level: 'silent' }), options);
  return { audit, clients, owners, queries, drops, reclaimed, failOnce: () => (failNext = true) };
}

describe('OwnershipAudit', () => {
  it('queries nothing while NATS is connected', async () => {
    const { audit, clients, owners, queries } = setup();
    clients.connect('c1');
    owners.set('c1', { ownerNode: 'node-b', epoch: 2 });
    await audit.maybeRun();
    audit.natsStatus('ping');
    await audit.maybeRun();
    expect(queries).toEqual([]);
  });

  it('while NATS is down, drops at every run the connected client ids another node owns', async () => {
    const { audit, clients, owners, queries, drops } = setup({ idsPerQuery: 2 });
    for (const id of ['own', 'taken', 'unknown', 'gone', 'taken-later']) clients.connect(id);
    const gone = clients.connect('gone'); // the same id again: the later connection counts
    clients.disconnect(gone);
    owners.set('own', { ownerNode: 'node-a', epoch: 1 });
    owners.set('taken', { ownerNode: 'node-b', epoch: 3 });
    audit.natsStatus('disconnect');
    await audit.maybeRun();
    expect(queries).toEqual([
      ['own', 'taken'],
      ['unknown', 'taken-later'],
    ]);
    expect(drops).toEqual([{ clientId: 'taken', ownerNode: 'node-b', epoch: 3 }]);
    expect(audit.droppedSessions).toBe(1);

    owners.set('taken-later', { ownerNode: 'node-c', epoch: 7 });
    audit.natsStatus('reconnecting');
    await audit.maybeRun();
    expect(queries).toHaveLength(4);
    expect(drops.map((drop) => drop.clientId)).toEqual(['taken', 'taken', 'taken-later']);
  });

  it('keeps a session this node claimed again since the store was read', async () => {
    const { audit, clients, owners, drops, reclaimed } = setup();
    clients.connect('back-here');
    owners.set('back-here', { ownerNode: 'node-b', epoch: 4 });
    reclaimed.add('back-here');
    audit.natsStatus('disconnect');
    await audit.maybeRun();
    expect(drops).toEqual([]);
    expect(audit.droppedSessions).toBe(0);
  });

  it('a reconnect owes one full sweep, begun after it; then nothing more', async () => {
    const { audit, clients, owners, queries, drops } = setup({ idsPerQuery: 1, idsPerRun: 2 });
    for (const id of ['a', 'b', 'c']) clients.connect(id);
    audit.natsStatus('disconnect');
    await audit.maybeRun(); // a, b: the sweep goes on at the next heartbeat
    expect(queries.flat()).toEqual(['a', 'b']);
    audit.natsStatus('reconnect');
    owners.set('a', { ownerNode: 'node-b', epoch: 2 });
    await audit.maybeRun(); // c ends the sweep begun before the reconnect: another one is owed
    await audit.maybeRun(); // a, b
    await audit.maybeRun(); // c: done
    expect(queries.flat()).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(drops.map((drop) => drop.clientId)).toEqual(['a']);
    await audit.maybeRun();
    await audit.maybeRun();
    expect(queries).toHaveLength(6);
  });

  it('a failed query is retried at the next run; the owed sweep stays owed', async () => {
    const { audit, clients, queries, failOnce } = setup();
    clients.connect('x');
    audit.natsStatus('disconnect');
    audit.natsStatus('reconnect');
    failOnce();
    await audit.maybeRun(); // rejects inside, logged
    await audit.maybeRun();
    await audit.maybeRun();
    expect(queries).toEqual([['x'], ['x']]);
  });

  it('an old connection closing after a new CONNECT of its client id leaves that id audited', async () => {
    const { audit, clients, queries } = setup();
    const old = clients.connect('roamer');
    clients.connect('roamer');
    clients.disconnect(old);
    audit.natsStatus('disconnect');
    await audit.maybeRun();
    expect(queries).toEqual([['roamer']]);
    audit.stop();
    clients.connect('late');
    await audit.maybeRun();
    expect(queries).toEqual([['roamer']]);
  });
});
