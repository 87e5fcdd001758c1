/**
 * What the router needs from a connection's byte stream. The app (TCP, TLS, WebSocket)
 * implements it; the router never sees a socket. Models: nats.deno `Transport`.
 */
export interface Transport {
  /**
   * Queue bytes for the peer. Returns false once the transport's output buffer is past its
   * high-water mark: the router then stops sending QoS 0 to this client (dropped, counted) and
   * holds QoS 1/2 until `ClientConnection.drained()` is called.
   */
  write(data: Buffer): boolean;
  /** Close the stream after flushing what was written. Idempotent. */
  close(): void;
  /** Stop delivering inbound bytes (backpressure while the router awaits a hook or store). */
  pause(): void;
  resume(): void;
  /** Peer address for logs and hooks, e.g. `127.0.0.1:53211`. */
  readonly remoteAddress: string;
  /**
   * Protocol levels this transport's listener accepts (3 = 3.1, 4 = 3.1.1, 5 = 5.0); a CONNECT
   * of another level is refused (CONNACK 0x01, 5.0: 0x84). Undefined: every level.
   */
  readonly protocolVersions?: readonly (3 | 4 | 5)[];
  /**
   * An identity the transport established (e.g. a TLS client certificate's subject CN, for a
   * listener with `useIdentityAsUsername`): when set, it is the client's username for hooks
   * and logs in place of the CONNECT's user name. Undefined: the CONNECT's user name.
   */
  readonly identity?: string;
}
