import type { Broker } from '@mqtt-adapt/router';

/**
 * What the `$SYS` topics and `/metrics` report, from one place so that both agree. Counters
 * (`*Received`, `*Sent`, `messagesDropped`, `clientConnects`) only grow; the rest are levels.
 */
export interface Figures {
  /** Clients connected now (CONNACK sent, connection still open). */
  readonly clientsConnected: number;
  /** Persistent sessions whose client is not connected (Clean Session 0 / a session expiry). */
  readonly clientsDisconnected: number;
  /** Sessions: the connected clients plus the disconnected persistent sessions. */
  readonly clientsTotal: number;
  /** Most clients connected at once since the broker started. */
  readonly clientsMaximum: number;
  /** Successful CONNECTs since start (takeovers and reconnects included). */
  readonly clientConnects: number;
  /** PUBLISH messages from clients, wills and the application; the broker's own `$SYS` excluded. */
  readonly messagesReceived: number;
  /** PUBLISH packets written to clients (`$SYS` deliveries included). */
  readonly messagesSent: number;
  /** Deliveries dropped (QoS 0 to a slow consumer, full offline queue, refused publish). */
  readonly messagesDropped: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly subscriptions: number;
  readonly retainedMessages: number;
}

/**
 * Follows `clientConnected` / `clientDisconnected` to know connected clients and their maximum
 * exactly (the router's `stats.connections` also counts sockets that have not sent CONNECT),
 * and reads the rest from `broker.stats` when asked. Attach it before the first connection.
 */
export class BrokerFigures {
  private connected = 0;
  private maximum = 0;
  private connects = 0;
  /** Messages the broker published itself (`$SYS`): `stats.messagesReceived` counts them. */
  private ownPublishes = 0;
  private readonly detachers: Array<() => void>;

  constructor(private readonly broker: Broker) {
    this.detachers = [
      broker.on('clientConnected', () => {
        this.connected++;
        this.connects++;
        if (this.connected > this.maximum) this.maximum = this.connected;
      }),
      broker.on('clientDisconnected', () => {
        this.connected--;
      }),
    ];
  }

  /** Counts a message the broker published itself, so that it is not reported as received. */
  countOwnPublish(): void {
    this.ownPublishes++;
  }

  read(): Figures {
    const stats = this.broker.stats;
    return {
      clientsConnected: this.connected,
      clientsDisconnected: Math.max(0, stats.sessions - this.connected),
      clientsTotal: Math.max(stats.sessions, this.connected),
      clientsMaximum: this.maximum,
      clientConnects: this.connects,
      messagesReceived: stats.messagesReceived - this.ownPublishes,
      messagesSent: stats.messagesSent,
      messagesDropped: stats.messagesDropped,
      bytesReceived: stats.bytesReceived,
      bytesSent: stats.bytesSent,
      subscriptions: stats.subscriptions,
      retainedMessages: stats.retainedMessages,
    };
  }

  detach(): void {
    for (const detach of this.detachers) detach();
  }
}
